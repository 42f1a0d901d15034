package aggregate

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Parameter names of criticalband, shared by its spec and its Run.
const (
	cbClean     = "clean"
	cbNoisy     = "noisy"
	cbMetric    = "metric"
	cbThreshold = "threshold"
	cbNormalise = "normalise"
	cbBands     = "bands"
	cbBase      = "base_frequency"
)

// Normalisations of criticalband.
const (
	normaliseRelative = "relative" // accuracy / clean accuracy
	normaliseRaw      = "raw"      // accuracy as it is
)

func init() {
	Register(&Func{
		Name: "criticalband",
		Description: "critical band (ANALYSES.md D): per band the number of noise levels, from the strongest, whose accuracy " +
			"is at or below the threshold before the first above it; a Gaussian fitted over the bands gives bandwidth " +
			"(octaves), centre frequency (cycles/image) and peak noise sensitivity, or a fit_failed row with the reason",
		Params: []params.Spec{
			{Name: cbClean, Type: params.String, Description: "id of the stage with the clean (contrast-reduced) accuracy, overall rows; " +
				"empty: the noisy stage's rows with band=-1"},
			{Name: cbNoisy, Type: params.String, Required: true, Description: "id of the stage with accuracy rows grouped band=<f>,sd=<s>"},
			{Name: cbMetric, Type: params.String, Default: "top1", Description: "the accuracy metric"},
			{Name: cbThreshold, Type: params.Float, Default: 0.5, Min: params.Bound(0),
				Description: "a noise level counts while its (normalised) accuracy is at or below this"},
			{Name: cbNormalise, Type: params.String, Default: normaliseRelative, Choices: []string{normaliseRelative, normaliseRaw},
				Description: "relative: accuracy / clean accuracy; raw: accuracy itself"},
			{Name: cbBands, Type: params.Int, Default: 7, Min: params.Bound(3), Description: "number of octave bands f = 0..bands-1 (each must have rows)"},
			{Name: cbBase, Type: params.Float, Default: 1.75, Min: params.Bound(0), Description: "centre frequency of band 0 in cycles/image"},
		},
		Run:     criticalBand,
		Figures: []sdk.Figure{{Kind: "criticalband"}},
		Metrics: []sdk.MetricInfo{
			{Name: "bandwidth", Unit: "octaves", Headline: true, Label: "bandwidth",
				Meaning: "full width at half maximum of the Gaussian fitted to the noise thresholds over bands"},
			{Name: "center_frequency", Unit: "cycles/image", Headline: true, Label: "centre",
				Meaning: "the fitted Gaussian's peak frequency: base · 2^μ"},
			{Name: "peak_noise_sensitivity", Unit: "1/SD", Meaning: "the fitted peak, 2^(a − 4): sensitivity to noise at the band centre"},
			{Name: "threshold", Diagnostic: true, Unit: "index", Meaning: "per band: index of the noise SD at which accuracy falls to the threshold"},
			{Name: "fit_failed", Unit: "flag", Meaning: "1 when the Gaussian fit failed; reason=… says why"},
			{Name: "fit_*", Diagnostic: true, Unit: "parameter", Meaning: "the fitted Gaussian's a, μ, σ and RMSE (diagnostics)"},
		},
		Check: inputParams(cbClean, cbNoisy),
	})
}

// noisePoint is one model's accuracy at one noise SD of one band.
type noisePoint struct {
	SD, Value float64
	N         int64
}

// bandRows holds one model's rows of the noisy stage: the bands' noise points and the band=-1 (clean) rows.
type bandRows struct {
	bands map[int][]noisePoint
	clean []noisePoint
}

// criticalBand computes the per-band thresholds and the Gaussian fit for every model of the noisy stage.
func criticalBand(p params.Values, inputs []string, in Inputs) ([]arrowio.Result, error) {
	metric, nBands := p.String(cbMetric), p.Int(cbBands)
	noisyID, cleanID := p.String(cbNoisy), p.String(cbClean)
	noisy, err := stageRows(cbNoisy, noisyID, inputs, in)
	if err != nil {
		return nil, err
	}
	byModel, err := splitBands(noisyID, noisy, metric, nBands)
	if err != nil {
		return nil, err
	}
	if len(byModel) == 0 {
		return nil, fmt.Errorf("stage %q has no %s rows grouped band=<f>,sd=<s>", noisyID, metric)
	}
	var clean map[string]arrowio.Result
	relative := p.String(cbNormalise) == normaliseRelative
	if relative && cleanID != "" {
		rows, err := stageRows(cbClean, cleanID, inputs, in)
		if err != nil {
			return nil, err
		}
		if clean, err = overall(cleanID, rows, metric); err != nil {
			return nil, err
		}
	}
	var out []arrowio.Result
	for _, m := range slices.Sorted(maps.Keys(byModel)) {
		br := byModel[m]
		scale, cleanN := 1.0, int64(0)
		if relative {
			if scale, cleanN, err = cleanAccuracy(m, metric, cleanID, noisyID, clean, br.clean); err != nil {
				return nil, err
			}
		}
		x := make([]float64, nBands)
		y := make([]float64, nBands)
		ns := []int64{}
		for f := range nBands {
			pts := br.bands[f]
			if len(pts) == 0 {
				return nil, fmt.Errorf("model %q: stage %q has no %s rows for band=%d (bands 0..%d are expected)", m, noisyID, metric, f, nBands-1)
			}
			j, n := thresholdIndex(pts, scale, p.Float(cbThreshold))
			if relative {
				n = min(n, cleanN)
			}
			x[f], y[f] = float64(f), float64(j)
			ns = append(ns, n)
			out = append(out, arrowio.Result{Model: m, Metric: "threshold", Group: "band=" + strconv.Itoa(f), Value: float64(j), N: n})
		}
		n := minN(ns...)
		fit := FitGaussian(x, y)
		if fit.Failed != "" {
			out = append(out, arrowio.Result{Model: m, Metric: "fit_failed", Group: "reason=" + fit.Failed, Value: 1, N: n})
			continue
		}
		for _, r := range []struct {
			metric string
			value  float64
		}{
			{"bandwidth", 2 * math.Sqrt(math.Log(4)) * fit.Sigma},
			{"center_frequency", p.Float(cbBase) * math.Exp2(fit.Mu)},
			{"peak_noise_sensitivity", math.Exp2(fit.A - 4)},
			{"fit_a", fit.A}, {"fit_mu", fit.Mu}, {"fit_sigma", fit.Sigma}, {"fit_rmse", fit.RMSE},
		} {
			out = append(out, arrowio.Result{Model: m, Metric: r.metric, Value: r.value, N: n})
		}
	}
	return out, nil
}

// splitBands groups the metric's rows with groups band=<f>,sd=<s> (or band=-1 for clean) by model and band.
func splitBands(stage string, rows []arrowio.Result, metric string, nBands int) (map[string]*bandRows, error) {
	parsed, err := groupsOf(stage, rows, metric)
	if err != nil {
		return nil, err
	}
	out := map[string]*bandRows{}
	for _, pr := range parsed {
		r, g := pr.Result, pr.Keys
		bs, ok := g["band"]
		sds, hasSD := g["sd"]
		if !ok || len(g) != 1 && !(len(g) == 2 && hasSD) {
			continue
		}
		band, err := strconv.Atoi(bs)
		if err != nil {
			return nil, fmt.Errorf("stage %q, model %q: group %q: band is not an integer", stage, r.Model, r.Group)
		}
		br := out[r.Model]
		if br == nil {
			br = &bandRows{bands: map[int][]noisePoint{}}
			out[r.Model] = br
		}
		if band == -1 {
			br.clean = append(br.clean, noisePoint{Value: r.Value, N: r.N})
			continue
		}
		if band < 0 || band >= nBands {
			return nil, fmt.Errorf("stage %q, model %q: group %q: band %d is outside 0..%d (parameter %s is %d)", stage, r.Model, r.Group, band, nBands-1, cbBands, nBands)
		}
		sd, err := strconv.ParseFloat(sds, 64)
		if !hasSD || err != nil {
			return nil, fmt.Errorf("stage %q, model %q: group %q: want a numeric sd", stage, r.Model, r.Group)
		}
		for _, q := range br.bands[band] {
			if q.SD == sd {
				return nil, fmt.Errorf("stage %q: model %q has two %s rows at band=%d,sd=%s", stage, r.Model, metric, band, sds)
			}
		}
		br.bands[band] = append(br.bands[band], noisePoint{SD: sd, Value: r.Value, N: r.N})
	}
	return out, nil
}

// cleanAccuracy is the accuracy relative normalisation divides by: the clean stage's overall row, or without
// a clean stage the N-weighted mean of the noisy stage's band=-1 rows (one per swept SD, all clean images).
func cleanAccuracy(model, metric, cleanID, noisyID string, clean map[string]arrowio.Result, bandClean []noisePoint) (float64, int64, error) {
	var v float64
	var n int64
	switch {
	case cleanID != "":
		r, ok := clean[model]
		if !ok {
			return 0, 0, fmt.Errorf("model %q: no overall %s row in clean stage %q", model, metric, cleanID)
		}
		v, n = r.Value, r.N
	case len(bandClean) > 0:
		var sum float64
		for _, q := range bandClean {
			sum += q.Value * float64(q.N)
			n += q.N
		}
		if n > 0 {
			v = sum / float64(n)
		}
	default:
		return 0, 0, fmt.Errorf("model %q: relative normalisation needs clean accuracy: set parameter %s or give stage %q rows with band=-1", model, cbClean, noisyID)
	}
	if v == 0 {
		return 0, 0, fmt.Errorf("model %q: clean %s is 0, so accuracy relative to clean is undefined (use %s: %s)", model, metric, cbNormalise, normaliseRaw)
	}
	return v, n, nil
}

// thresholdIndex counts the noise levels, from the strongest SD down, whose accuracy/scale is at or below
// threshold before the first one above it; n is the smallest sample count of the band's rows.
func thresholdIndex(pts []noisePoint, scale, threshold float64) (j int, n int64) {
	slices.SortFunc(pts, func(a, b noisePoint) int { return cmp.Compare(b.SD, a.SD) })
	counting := true
	n = pts[0].N
	for _, q := range pts {
		n = min(n, q.N)
		if counting && q.Value/scale <= threshold {
			j++
		} else {
			counting = false
		}
	}
	return j, n
}
