package aggregate

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Parameter names of mce, shared by its spec and its Run.
const (
	mceCorrupted   = "corrupted"
	mceClean       = "clean"
	mceMetric      = "metric"
	mceNameKey     = "name_key"
	mceSeverityKey = "severity_key"
	mceBaseline    = "baseline"
	mceErrors      = "baseline_errors"
	mceCleanError  = "baseline_clean_error"
	mcePublished   = "published"
	mceCorruptions = "corruptions"
)

// publishedAlexNet is AlexNet's top-1 error on ImageNet-C per corruption and severity 1–5, the
// baseline of the ImageNet-C benchmark (Hendrycks & Dietterich, ICLR 2019), as its evaluation code
// publishes it; its means are the per-corruption errors the paper normalises by.
var publishedAlexNet = map[string][5]float64{
	"gaussian_noise":    {0.69528, 0.82542, 0.93554, 0.98138, 0.99452},
	"shot_noise":        {0.71224, 0.85108, 0.93574, 0.98182, 0.99146},
	"impulse_noise":     {0.78374, 0.89808, 0.9487, 0.9872, 0.99548},
	"defocus_blur":      {0.65624, 0.73202, 0.85036, 0.91364, 0.94714},
	"glass_blur":        {0.64308, 0.75054, 0.88806, 0.91622, 0.93344},
	"motion_blur":       {0.5843, 0.70048, 0.82108, 0.8975, 0.92638},
	"zoom_blur":         {0.70008, 0.76992, 0.80784, 0.84198, 0.87198},
	"snow":              {0.71726, 0.88392, 0.86468, 0.9187, 0.94952},
	"frost":             {0.6139, 0.79734, 0.8879, 0.89942, 0.9343},
	"fog":               {0.67474, 0.7605, 0.84378, 0.8726, 0.945},
	"brightness":        {0.4514, 0.48502, 0.54048, 0.62166, 0.7244},
	"contrast":          {0.64548, 0.7615, 0.88874, 0.9776, 0.9927},
	"elastic_transform": {0.52596, 0.70116, 0.55686, 0.64076, 0.80554},
	"pixelate":          {0.52218, 0.5462, 0.73728, 0.87092, 0.91262},
	"jpeg_compression":  {0.51002, 0.54718, 0.57294, 0.65458, 0.74778},
}

// publishedAlexNetClean is AlexNet's clean ImageNet top-1 error in the same paper (43.5%).
const publishedAlexNetClean = 0.435

func init() {
	Register(&Func{
		Name: "mce",
		Description: "common corruptions (ANALYSES.md E): per model the accuracy per corruption, per severity and overall, " +
			"and with a baseline (a model of the study, a table of errors, or AlexNet's published errors) the corruption " +
			"error per corruption and its mean (mCE), and with clean accuracies the relative CE and relative mCE",
		Params: []params.Spec{
			{Name: mceCorrupted, Type: params.String, Required: true,
				Description: "id of the stage with accuracy rows grouped <name_key>=<corruption>,<severity_key>=<s>"},
			{Name: mceClean, Type: params.String, Description: "id of the stage with the clean accuracy (overall rows); gives relative CE"},
			{Name: mceMetric, Type: params.String, Default: "top1", Description: "the accuracy metric (error = 1 − accuracy)"},
			{Name: mceNameKey, Type: params.String, Default: "name", Description: "the sweep key of the corruption name"},
			{Name: mceSeverityKey, Type: params.String, Default: "severity", Description: "the sweep key of the severity"},
			{Name: mceBaseline, Type: params.String, Description: "a model of the study whose errors normalise CE"},
			{Name: mceErrors, Type: params.StringList, Description: "baseline errors as entries <corruption>=<error> " +
				"(mean over severities 1–5) or <corruption>/<severity>=<error>"},
			{Name: mceCleanError, Type: params.Float, Min: params.Bound(0), Max: params.Bound(1),
				Description: "the baseline's clean error, for relative CE with baseline_errors"},
			{Name: mcePublished, Type: params.String, Choices: []string{"alexnet"},
				Description: "use a published baseline: alexnet = AlexNet's ImageNet-C errors (Hendrycks & Dietterich 2019)"},
			{Name: mceCorruptions, Type: params.StringList,
				Description: "the corruptions mCE averages over; default every corruption in the stage's rows"},
		},
		Run: mce,
		Check: func(p params.Values, inputs []string) error {
			if err := inputParams(mceCorrupted, mceClean)(p, inputs); err != nil {
				return err
			}
			given := 0
			for _, n := range []string{mceBaseline, mceErrors, mcePublished} {
				if p.Has(n) {
					given++
				}
			}
			if given > 1 {
				return fmt.Errorf("give one of %s, %s and %s, not several", mceBaseline, mceErrors, mcePublished)
			}
			if p.Has(mceErrors) {
				if _, err := parseErrorTable(p.Strings(mceErrors)); err != nil {
					return err
				}
			}
			return nil
		},
		Metrics: []sdk.MetricInfo{
			{Name: "mce", Unit: "ratio", Better: sdk.Lower, Headline: true, Label: "mCE",
				Meaning: "mean over corruptions of CE: Σ_s error / Σ_s baseline error (1: the baseline's robustness)"},
			{Name: "relative_mce", Unit: "ratio", Better: sdk.Lower, Headline: true, Label: "relative-mCE",
				Meaning: "mean over corruptions of Σ_s (error − clean error) / the baseline's"},
			{Name: "mean_accuracy", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher, Headline: true, Label: "mean-top-1",
				Meaning: "accuracy averaged over every corruption and severity"},
			{Name: "ce", Unit: "ratio", Better: sdk.Lower, Meaning: "per corruption: Σ_s error / Σ_s baseline error"},
			{Name: "relative_ce", Unit: "ratio", Better: sdk.Lower, Meaning: "per corruption: Σ_s (error − clean error) / the baseline's"},
			{Name: "accuracy", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher, Meaning: "per corruption: accuracy averaged over severities"},
			{Name: "severity_accuracy", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher, Meaning: "per severity: accuracy averaged over corruptions"},
			{Name: "cell_accuracy", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher, Meaning: "accuracy at one corruption and severity"},
		},
		Figures: []sdk.Figure{
			{Kind: sdk.FigureHeatmap, Metric: "accuracy", Label: "accuracy per corruption"},
			{Kind: sdk.FigureHeatmap, Metric: "cell_accuracy", Label: "accuracy"},
			{Kind: sdk.FigureSweep, Metric: "severity_accuracy", Label: "accuracy (mean over corruptions)"},
			{Kind: sdk.FigureHeatmap, Metric: "ce", Label: "corruption error"},
			{Kind: sdk.FigureBars, Metric: "mce", Label: "mCE"},
		},
	})
}

// errorTable is a baseline's errors: per corruption, per severity (index s−1) and/or the mean.
type errorTable struct {
	sev   map[string]map[int]float64
	mean  map[string]float64
	clean float64 // < 0: not given
}

// parseErrorTable reads entries <corruption>=<error> and <corruption>/<severity>=<error>.
func parseErrorTable(entries []string) (*errorTable, error) {
	t := &errorTable{sev: map[string]map[int]float64{}, mean: map[string]float64{}, clean: -1}
	for _, e := range entries {
		k, v, ok := strings.Cut(e, "=")
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || err != nil || x < 0 || x > 1 {
			return nil, fmt.Errorf("parameter %s: entry %q is not <corruption>[/<severity>]=<error in [0,1]>", mceErrors, e)
		}
		name, sev, hasSev := strings.Cut(strings.TrimSpace(k), "/")
		if !hasSev {
			if _, dup := t.mean[name]; dup {
				return nil, fmt.Errorf("parameter %s: %s is given twice", mceErrors, name)
			}
			t.mean[name] = x
			continue
		}
		s, err := strconv.Atoi(sev)
		if err != nil || s < 1 || s > 5 {
			return nil, fmt.Errorf("parameter %s: entry %q: severity %q is not 1–5", mceErrors, e, sev)
		}
		if t.sev[name] == nil {
			t.sev[name] = map[int]float64{}
		}
		if _, dup := t.sev[name][s]; dup {
			return nil, fmt.Errorf("parameter %s: %s/%d is given twice", mceErrors, name, s)
		}
		t.sev[name][s] = x
	}
	return t, nil
}

// cell is one model's accuracy at one corruption and severity.
type cell struct {
	acc float64
	n   int64
}

// mceGrid is a model's accuracies by corruption, then severity.
type mceGrid map[string]map[int]cell

// mce computes the accuracy summaries and, with a baseline, CE, mCE, relative CE and relative mCE.
func mce(p params.Values, inputs []string, in Inputs) ([]arrowio.Result, error) {
	metric, corruptedID, cleanID := p.String(mceMetric), p.String(mceCorrupted), p.String(mceClean)
	rows, err := stageRows(mceCorrupted, corruptedID, inputs, in)
	if err != nil {
		return nil, err
	}
	grids, err := corruptionGrids(corruptedID, rows, metric, p.String(mceNameKey), p.String(mceSeverityKey))
	if err != nil {
		return nil, err
	}
	if len(grids) == 0 {
		return nil, fmt.Errorf("stage %q has no %s rows grouped %s=<corruption>,%s=<severity>", corruptedID, metric, p.String(mceNameKey), p.String(mceSeverityKey))
	}
	var clean map[string]arrowio.Result
	if cleanID != "" {
		cleanRows, err := stageRows(mceClean, cleanID, inputs, in)
		if err != nil {
			return nil, err
		}
		if clean, err = overall(cleanID, cleanRows, metric); err != nil {
			return nil, err
		}
	}
	var table *errorTable
	baseModel := p.String(mceBaseline)
	switch {
	case p.Has(mceErrors):
		if table, err = parseErrorTable(p.Strings(mceErrors)); err != nil {
			return nil, err
		}
		if p.Has(mceCleanError) {
			table.clean = p.Float(mceCleanError)
		}
	case p.String(mcePublished) == "alexnet":
		table = &errorTable{sev: map[string]map[int]float64{}, clean: publishedAlexNetClean}
		for c, errs := range publishedAlexNet {
			table.sev[c] = map[int]float64{}
			for s, e := range errs {
				table.sev[c][s+1] = e
			}
		}
	case baseModel != "":
		if _, ok := grids[baseModel]; !ok {
			return nil, fmt.Errorf("parameter %s: model %q has no %s rows in stage %q (models: %s)", mceBaseline, baseModel, metric, corruptedID,
				strings.Join(slices.Sorted(maps.Keys(grids)), ", "))
		}
	}
	var out []arrowio.Result
	for _, m := range slices.Sorted(maps.Keys(grids)) {
		g := grids[m]
		names := p.Strings(mceCorruptions)
		if len(names) == 0 {
			names = slices.Sorted(maps.Keys(g))
		}
		rowsM, err := modelSummary(m, g, names, corruptedID)
		if err != nil {
			return nil, err
		}
		out = append(out, rowsM...)
		if table == nil && baseModel == "" {
			continue
		}
		var cleanErr, baseClean *float64
		var cleanN int64
		if clean != nil {
			c, ok := clean[m]
			if !ok {
				return nil, fmt.Errorf("model %q: no overall %s row in clean stage %q", m, metric, cleanID)
			}
			e := 1 - c.Value
			cleanErr, cleanN = &e, c.N
			switch {
			case table != nil && table.clean >= 0:
				bc := table.clean
				baseClean = &bc
			case table != nil:
				return nil, fmt.Errorf("relative CE needs the baseline's clean error: give %s", mceCleanError)
			default:
				bc, ok := clean[baseModel]
				if !ok {
					return nil, fmt.Errorf("parameter %s: baseline model %q has no overall %s row in clean stage %q", mceBaseline, baseModel, metric, cleanID)
				}
				e := 1 - bc.Value
				baseClean = &e
			}
		}
		var ces, rces []float64
		var ns []int64
		for _, c := range names {
			sevs := slices.Sorted(maps.Keys(g[c]))
			var errSum, baseSum float64
			n := int64(-1)
			if table != nil {
				bySev, hasSev := table.sev[c]
				mean, hasMean := table.mean[c]
				switch {
				case hasSev:
					for _, s := range sevs {
						b, ok := bySev[s]
						if !ok {
							return nil, fmt.Errorf("baseline errors: no entry for %s/%d (model %q has that cell)", c, s, m)
						}
						baseSum += b
					}
				case hasMean:
					if !slices.Equal(sevs, []int{1, 2, 3, 4, 5}) {
						return nil, fmt.Errorf("baseline errors: %s has only a mean over severities 1–5, but model %q has severities %v", c, m, sevs)
					}
					baseSum = 5 * mean
				default:
					return nil, fmt.Errorf("baseline errors: no entry for corruption %s", c)
				}
			} else {
				for _, s := range sevs {
					b, ok := grids[baseModel][c][s]
					if !ok {
						return nil, fmt.Errorf("parameter %s: baseline model %q has no %s row for %s=%s,%s=%d in stage %q",
							mceBaseline, baseModel, metric, p.String(mceNameKey), c, p.String(mceSeverityKey), s, corruptedID)
					}
					baseSum += 1 - b.acc
				}
			}
			for _, s := range sevs {
				errSum += 1 - g[c][s].acc
				if n < 0 || g[c][s].n < n {
					n = g[c][s].n
				}
			}
			if baseSum <= 0 {
				return nil, fmt.Errorf("baseline error of %s is 0: CE is undefined", c)
			}
			ce := errSum / baseSum
			ces, ns = append(ces, ce), append(ns, n)
			out = append(out, arrowio.Result{Model: m, Metric: "ce", Group: "corruption=" + c, Value: ce, N: n})
			if cleanErr != nil {
				k := float64(len(sevs))
				d := baseSum - k**baseClean
				if d <= 0 {
					return nil, fmt.Errorf("baseline's %s error does not exceed its clean error: relative CE is undefined", c)
				}
				rce := (errSum - k**cleanErr) / d
				rces = append(rces, rce)
				out = append(out, arrowio.Result{Model: m, Metric: "relative_ce", Group: "corruption=" + c, Value: rce, N: min(n, cleanN)})
			}
		}
		out = append(out, arrowio.Result{Model: m, Metric: "mce", Value: meanOf(ces), N: minN(ns...)})
		if cleanErr != nil {
			out = append(out, arrowio.Result{Model: m, Metric: "relative_mce", Value: meanOf(rces), N: min(minN(ns...), cleanN)})
		}
	}
	return out, nil
}

func meanOf(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// corruptionGrids collects, per model, the rows of metric whose group is exactly nameKey=<c>,sevKey=<s>.
func corruptionGrids(stage string, rows []arrowio.Result, metric, nameKey, sevKey string) (map[string]mceGrid, error) {
	parsed, err := groupsOf(stage, rows, metric)
	if err != nil {
		return nil, err
	}
	out := map[string]mceGrid{}
	for _, pr := range parsed {
		c, okC := pr.Keys[nameKey]
		sv, okS := pr.Keys[sevKey]
		if !okC || !okS || len(pr.Keys) != 2 {
			continue
		}
		s, err := strconv.Atoi(sv)
		if err != nil || s < 1 || s > 5 {
			return nil, fmt.Errorf("stage %q, model %q: group %q: %s is not a severity 1–5", stage, pr.Model, pr.Group, sevKey)
		}
		if out[pr.Model] == nil {
			out[pr.Model] = mceGrid{}
		}
		if out[pr.Model][c] == nil {
			out[pr.Model][c] = map[int]cell{}
		}
		if _, dup := out[pr.Model][c][s]; dup {
			return nil, fmt.Errorf("stage %q: model %q has two %s rows at %s", stage, pr.Model, metric, pr.Group)
		}
		out[pr.Model][c][s] = cell{acc: pr.Value, n: pr.N}
	}
	return out, nil
}

// modelSummary is a model's accuracy per corruption (mean over its severities) and per cell (the
// input, regrouped corruption=<c>,severity=<s> for the per-model figure), per severity (mean over the
// corruptions) and overall (mean over every cell), over the corruptions in names.
func modelSummary(m string, g mceGrid, names []string, stage string) ([]arrowio.Result, error) {
	var out []arrowio.Result
	bySev := map[int][]cell{}
	var all []cell
	var missing []string
	for _, c := range names {
		cells := g[c]
		if len(cells) == 0 {
			missing = append(missing, c)
			continue
		}
		var accs []float64
		n := int64(-1)
		for _, s := range slices.Sorted(maps.Keys(cells)) {
			accs = append(accs, cells[s].acc)
			bySev[s] = append(bySev[s], cells[s])
			all = append(all, cells[s])
			if n < 0 || cells[s].n < n {
				n = cells[s].n
			}
		}
		out = append(out, arrowio.Result{Model: m, Metric: "accuracy", Group: "corruption=" + c, Value: meanOf(accs), N: n})
		for _, s := range slices.Sorted(maps.Keys(cells)) {
			out = append(out, arrowio.Result{Model: m, Metric: "cell_accuracy", Group: "corruption=" + c + ",severity=" + strconv.Itoa(s),
				Value: cells[s].acc, N: cells[s].n})
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("model %q: stage %q has no rows for corruption %s", m, stage, strings.Join(missing, ", "))
	}
	summary := func(metric, group string, cells []cell) arrowio.Result {
		accs := make([]float64, len(cells))
		ns := make([]int64, len(cells))
		for i, c := range cells {
			accs[i], ns[i] = c.acc, c.n
		}
		return arrowio.Result{Model: m, Metric: metric, Group: group, Value: meanOf(accs), N: minN(ns...)}
	}
	for _, s := range slices.Sorted(maps.Keys(bySev)) {
		out = append(out, summary("severity_accuracy", "severity="+strconv.Itoa(s), bySev[s]))
	}
	out = append(out, summary("mean_accuracy", "", all))
	return out, nil
}
