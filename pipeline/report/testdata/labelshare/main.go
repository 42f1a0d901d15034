// Command vistudy-metric-labelshare is a third-party metric for the report's tests: the share of
// samples per label, declaring a bars figure. TestThirdPartyMetricFigure builds it as its own module.
package main

import (
	"fmt"
	"maps"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// labelShare counts samples per label.
type labelShare struct{}

// state is the number of samples per label.
type state struct {
	Counts map[int32]int64 `json:"counts"`
}

func (labelShare) Info() sdk.Info {
	return sdk.Info{
		Name: "labelshare", Version: "0.1.0", Description: "share of the samples per label",
		Requires: []string{arrowio.ColLabel},
		Figures:  []sdk.Figure{{Kind: sdk.FigureBars, Metric: "share", Label: "share of samples"}},
	}
}

func (labelShare) Init(params.Values, sdk.Model) (state, error) {
	return state{Counts: map[int32]int64{}}, nil
}

func (labelShare) Accumulate(_ params.Values, _ sdk.Model, s state, batch arrow.RecordBatch) (state, error) {
	labels, err := arrowio.Int32Column(batch, arrowio.ColLabel)
	if err != nil {
		return s, err
	}
	for _, y := range labels {
		s.Counts[y]++
	}
	return s, nil
}

func (labelShare) Merge(_ params.Values, _ sdk.Model, a, b state) (state, error) {
	for y, n := range b.Counts {
		a.Counts[y] += n
	}
	return a, nil
}

func (labelShare) Report(_ params.Values, _ sdk.Model, s state) ([]sdk.Row, error) {
	var total int64
	for _, n := range s.Counts {
		total += n
	}
	rows := []sdk.Row{{Metric: "count", Value: float64(total), N: total}}
	for _, y := range slices.Sorted(maps.Keys(s.Counts)) {
		rows = append(rows, sdk.Row{Metric: "share", Group: fmt.Sprintf("label=%d", y), Value: float64(s.Counts[y]) / float64(total), N: total})
	}
	return rows, nil
}

func main() { sdk.ServeMetric[state](labelShare{}) }
