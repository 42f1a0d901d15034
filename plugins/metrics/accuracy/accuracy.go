package main

import (
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// maxTopK bounds how many k values one instance reports.
const maxTopK = 100

// accuracy is top-k accuracy over the dataset's label space.
type accuracy struct{}

// state counts samples and hits; integers merge exactly.
type state struct {
	N          int64           `json:"n"`          // labelled samples seen
	Unlabelled int64           `json:"unlabelled"` // samples without a label (label < 0), excluded
	Hits       map[int64]int64 `json:"hits"`       // k → samples whose label is within the top k
}

func (accuracy) Info() sdk.Info {
	return sdk.Info{
		Name: "accuracy", Version: "0.1.0",
		Description: "top-k accuracy: a sample counts for k when its label ranks among the first k (ties go to the lower class index, as for pred)",
		Params: []params.Spec{{Name: "topk", Type: params.IntList, Default: []int{1, 5},
			Description: "the k values to report, each between 1 and the model's number of classes", Min: params.Bound(1),
			MinLen: 1, MaxLen: maxTopK},
			{Name: "classes", Type: params.String, Default: "model", Choices: []string{"model", "dataset"},
				Description: "rank the label among all the model's classes, or among the dataset's only (ImageNet-R/-A: the arg-max over the classes the dataset has)"}},
		Requires: []string{arrowio.ColLabel, arrowio.ColLogits},
		Figures:  []sdk.Figure{{Kind: sdk.FigureSweep, Metric: "top1", Label: "top-1 accuracy"}},
		Metrics: []sdk.MetricInfo{
			{Name: "top1", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher, Headline: true, Label: "top-1",
				Meaning: "fraction of samples whose label is the arg-max class"},
			{Name: "top*", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher,
				Meaning: "fraction of samples whose label ranks among the first k classes"},
			{Name: "unlabelled", Unit: "count", Meaning: "samples without a label (not counted in the accuracies)"},
		},
	}
}

func (accuracy) Init(p params.Values, m sdk.Model) (state, error) {
	s := state{Hits: map[int64]int64{}}
	if p.String("classes") == "dataset" && len(m.DatasetToModel) == 0 {
		return s, fmt.Errorf("classes: dataset ranks among the dataset's classes, but model %s's labels are the dataset's own (no subset): give the dataset its own classes (class folders, or labels: a class file)", m.Name)
	}
	for _, k := range p.Ints("topk") {
		if m.NumClasses > 0 && k > m.NumClasses {
			return s, fmt.Errorf("topk %d exceeds the %d classes of model %s", k, m.NumClasses, m.Name)
		}
		s.Hits[int64(k)] = 0
	}
	return s, nil
}

func (accuracy) Accumulate(p params.Values, m sdk.Model, s state, batch arrow.RecordBatch) (state, error) {
	var among []int32
	if p.String("classes") == "dataset" {
		among = m.DatasetToModel
	}
	labels, err := arrowio.Int32Column(batch, arrowio.ColLabel)
	if err != nil {
		return s, err
	}
	logits, err := arrowio.TensorColumn(batch, arrowio.ColLogits)
	if err != nil {
		return s, err
	}
	if n := logits.Shape(); len(n) == 1 {
		for k := range s.Hits {
			if k > int64(n[0]) {
				return s, fmt.Errorf("topk %d exceeds the model's %d outputs", k, n[0])
			}
		}
	}
	for i, y := range labels {
		row := logits.Row(i)
		if err := sdk.CheckLogits(row); err != nil {
			return s, fmt.Errorf("%s: %w", sdk.SampleName(batch, i), err)
		}
		if y < 0 {
			s.Unlabelled++
			continue
		}
		if int(y) >= len(row) {
			return s, fmt.Errorf("sample %d has label %d but the model has %d classes: the dataset's label space does not match the model's", i, y, len(row))
		}
		s.N++
		r := int64(sdk.Rank(row, y))
		if among != nil {
			r = int64(sdk.RankAmong(row, y, among))
		}
		for k := range s.Hits {
			if r < k {
				s.Hits[k]++
			}
		}
	}
	return s, nil
}

func (accuracy) Merge(_ params.Values, _ sdk.Model, a, b state) (state, error) {
	a.N += b.N
	a.Unlabelled += b.Unlabelled
	for k, v := range b.Hits {
		a.Hits[k] += v
	}
	return a, nil
}

func (accuracy) Report(_ params.Values, _ sdk.Model, s state) ([]sdk.Row, error) {
	ks := make([]int64, 0, len(s.Hits))
	for k := range s.Hits {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var rows []sdk.Row
	for _, k := range ks {
		v := 0.0
		if s.N > 0 {
			v = float64(s.Hits[k]) / float64(s.N)
		}
		rows = append(rows, sdk.Row{Metric: fmt.Sprintf("top%d", k), Value: v, N: s.N})
	}
	if s.Unlabelled > 0 {
		rows = append(rows, sdk.Row{Metric: "unlabelled", Value: float64(s.Unlabelled), N: s.Unlabelled})
	}
	return rows, nil
}

// Samples emits each sample's rank of its true label (0 = top-1 correct).
func (accuracy) Samples(_ params.Values, _ sdk.Model, batch arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error) {
	ids, err := arrowio.StringColumn(batch, arrowio.ColSampleID)
	if err != nil {
		return nil, err
	}
	labels, err := arrowio.Int32Column(batch, arrowio.ColLabel)
	if err != nil {
		return nil, err
	}
	logits, err := arrowio.TensorColumn(batch, arrowio.ColLogits)
	if err != nil {
		return nil, err
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: "rank", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i, y := range labels {
		b.Field(0).(*array.StringBuilder).Append(ids[i])
		b.Field(1).(*array.Int32Builder).Append(y)
		if y < 0 || int(y) >= len(logits.Row(i)) {
			b.Field(2).AppendNull()
			continue
		}
		b.Field(2).(*array.Int32Builder).Append(int32(sdk.Rank(logits.Row(i), y)))
	}
	return b.NewRecordBatch(), nil
}
