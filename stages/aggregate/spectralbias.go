package aggregate

import (
	"fmt"
	"maps"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Parameter names of spectralbias, shared by its spec and its Run.
const (
	sbClean    = "clean"
	sbLowpass  = "lowpass"
	sbHighpass = "highpass"
	sbMetric   = "metric"
	sbKey      = "key"
	sbRange    = "range"
)

func init() {
	Register(&Func{
		Name: "spectralbias",
		Description: "spectral bias (ANALYSES.md C): per model the low- and high-pass accuracy relative to clean accuracy, " +
			"LPP and HPP = mean ratio over c in range, spectral_bias = HPP / (LPP + HPP)",
		Params: []params.Spec{
			{Name: sbClean, Type: params.String, Required: true, Description: "id of the stage with the clean accuracy (overall rows)"},
			{Name: sbLowpass, Type: params.String, Required: true, Description: "id of the stage with low-pass accuracy swept over the key"},
			{Name: sbHighpass, Type: params.String, Required: true, Description: "id of the stage with high-pass accuracy swept over the key"},
			{Name: sbMetric, Type: params.String, Default: "top1", Description: "the accuracy metric to compare"},
			{Name: sbKey, Type: params.String, Default: "c", Description: "the sweep key of the filter size in the filtered stages' groups"},
			{Name: sbRange, Type: params.FloatList, Default: []float64{0.1, 0.5}, Description: "[lo, hi]: the c values (inclusive) averaged into LPP and HPP"},
		},
		Run:     spectralBias,
		Figures: []sdk.Figure{{Kind: "spectral"}},
		Metrics: []sdk.MetricInfo{
			{Name: "spectral_bias", Unit: "fraction", Min: 0, Max: 1, Headline: true, Label: "spectral-bias",
				Meaning: "HPP / (LPP + HPP): above 0.5, a model relies more on high frequencies than on low"},
			{Name: "lpp", Unit: "ratio", Meaning: "mean low-pass accuracy relative to clean accuracy over c in range"},
			{Name: "hpp", Unit: "ratio", Meaning: "mean high-pass accuracy relative to clean accuracy over c in range"},
			{Name: "*_ratio", Diagnostic: true, Unit: "ratio", Meaning: "filtered accuracy / clean accuracy at one filter size c"},
		},
		Check: inputParams(sbClean, sbLowpass, sbHighpass),
	})
}

// spectralBias computes the per-model ratio curves, LPP, HPP and the spectral bias.
func spectralBias(p params.Values, inputs []string, in Inputs) ([]arrowio.Result, error) {
	metric, key := p.String(sbMetric), p.String(sbKey)
	rng := p.Floats(sbRange)
	if len(rng) != 2 || rng[0] > rng[1] {
		return nil, fmt.Errorf("parameter %s: want [lo, hi] with lo <= hi, got %v", sbRange, rng)
	}
	cleanRows, err := stageRows(sbClean, p.String(sbClean), inputs, in)
	if err != nil {
		return nil, err
	}
	clean, err := overall(p.String(sbClean), cleanRows, metric)
	if err != nil {
		return nil, err
	}
	type filter struct{ param, name string }
	filters := []filter{{sbLowpass, "lowpass"}, {sbHighpass, "highpass"}}
	curves := map[string]map[string][]point{} // filter name → model → points
	for _, f := range filters {
		rows, err := stageRows(f.param, p.String(f.param), inputs, in)
		if err != nil {
			return nil, err
		}
		if curves[f.name], err = sweep(p.String(f.param), rows, metric, key); err != nil {
			return nil, err
		}
	}
	var out []arrowio.Result
	for _, m := range models(maps.Keys(clean), maps.Keys(curves["lowpass"]), maps.Keys(curves["highpass"])) {
		c, ok := clean[m]
		if !ok {
			return nil, fmt.Errorf("model %q: no overall %s row in clean stage %q", m, metric, p.String(sbClean))
		}
		if c.Value == 0 {
			return nil, fmt.Errorf("model %q: clean %s in stage %q is 0, so the filtered/clean ratios are undefined", m, metric, p.String(sbClean))
		}
		means := map[string]float64{}
		ns := map[string]int64{}
		for _, f := range filters {
			pts := curves[f.name][m]
			if len(pts) == 0 {
				return nil, fmt.Errorf("model %q: no %s rows with group %s=<value> in %s stage %q", m, metric, key, f.name, p.String(f.param))
			}
			var sum float64
			var used []int64
			for _, pt := range pts {
				ratio := pt.Value / c.Value
				out = append(out, arrowio.Result{Model: m, Metric: f.name + "_ratio", Group: key + "=" + formatNumber(pt.X),
					Value: ratio, N: pt.N})
				if inRange(pt.X, rng[0], rng[1]) {
					sum += ratio
					used = append(used, pt.N)
				}
			}
			if len(used) == 0 {
				return nil, fmt.Errorf("model %q: %s stage %q has no %s in [%g, %g]", m, f.name, p.String(f.param), key, rng[0], rng[1])
			}
			means[f.name] = sum / float64(len(used))
			ns[f.name] = minN(append(used, c.N)...)
		}
		lpp, hpp := means["lowpass"], means["highpass"]
		if lpp+hpp == 0 {
			return nil, fmt.Errorf("model %q: LPP and HPP are both 0 (no filtered image in range classified), so the spectral bias is undefined", m)
		}
		out = append(out,
			arrowio.Result{Model: m, Metric: "lpp", Value: lpp, N: ns["lowpass"]},
			arrowio.Result{Model: m, Metric: "hpp", Value: hpp, N: ns["highpass"]},
			arrowio.Result{Model: m, Metric: "spectral_bias", Value: hpp / (lpp + hpp), N: min(ns["lowpass"], ns["highpass"])})
	}
	return out, nil
}
