package aggregate

import (
	"fmt"
	"maps"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Parameter names of solarization, shared by its spec and its Run.
const (
	solSweep  = "sweep"
	solMetric = "metric"
	solKey    = "key"
	solClean  = "clean"
)

func init() {
	Register(&Func{
		Name: "solarization",
		Description: "universal solarization attack (ANALYSES.md F): per model the minimum accuracy over the swept thresholds, " +
			"the threshold reaching it (the smallest on ties) and, with a clean stage, the drop from clean accuracy",
		Params: []params.Spec{
			{Name: solSweep, Type: params.String, Required: true, Description: "id of the stage with accuracy rows grouped threshold=<t>"},
			{Name: solMetric, Type: params.String, Default: "top1", Description: "the accuracy metric"},
			{Name: solKey, Type: params.String, Default: "threshold", Description: "the sweep key of the solarization threshold"},
			{Name: solClean, Type: params.String, Description: "id of the stage with the clean accuracy (overall rows); gives accuracy_drop"},
		},
		Run: solarization,
		Metrics: []sdk.MetricInfo{
			{Name: "min_accuracy", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher, Headline: true, Label: "min-top-1",
				Meaning: "the lowest accuracy over the swept solarization thresholds (the universal attack's success)"},
			{Name: "argmin_threshold", Unit: "pixel value", Min: 0, Max: 1, Meaning: "the threshold reaching min_accuracy (the smallest on ties)"},
			{Name: "accuracy_drop", Unit: "fraction", Min: -1, Max: 1, Better: sdk.Lower, Meaning: "clean accuracy − min_accuracy"},
		},
		Figures: []sdk.Figure{{Kind: sdk.FigureNone}},
		Check:   inputParams(solSweep, solClean),
	})
}

// solarization reduces each model's accuracy curve over the solarization threshold to its minimum.
func solarization(p params.Values, inputs []string, in Inputs) ([]arrowio.Result, error) {
	metric, key, sweepID, cleanID := p.String(solMetric), p.String(solKey), p.String(solSweep), p.String(solClean)
	rows, err := stageRows(solSweep, sweepID, inputs, in)
	if err != nil {
		return nil, err
	}
	curves, err := sweep(sweepID, rows, metric, key)
	if err != nil {
		return nil, err
	}
	if len(curves) == 0 {
		return nil, fmt.Errorf("stage %q has no %s rows grouped %s=<value>", sweepID, metric, key)
	}
	var clean map[string]arrowio.Result
	if cleanID != "" {
		cleanRows, err := stageRows(solClean, cleanID, inputs, in)
		if err != nil {
			return nil, err
		}
		if clean, err = overall(cleanID, cleanRows, metric); err != nil {
			return nil, err
		}
	}
	var out []arrowio.Result
	for _, m := range models(maps.Keys(curves)) {
		best := curves[m][0] // points are sorted by threshold, so the first minimum is the smallest threshold
		for _, pt := range curves[m][1:] {
			if pt.Value < best.Value {
				best = pt
			}
		}
		out = append(out,
			arrowio.Result{Model: m, Metric: "min_accuracy", Value: best.Value, N: best.N},
			arrowio.Result{Model: m, Metric: "argmin_threshold", Value: best.X, N: best.N})
		if clean == nil {
			continue
		}
		c, ok := clean[m]
		if !ok {
			return nil, fmt.Errorf("model %q: no overall %s row in clean stage %q", m, metric, cleanID)
		}
		out = append(out, arrowio.Result{Model: m, Metric: "accuracy_drop", Value: c.Value - best.Value, N: min(c.N, best.N)})
	}
	return out, nil
}
