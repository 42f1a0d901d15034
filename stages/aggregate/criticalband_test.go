package aggregate

import (
	"fmt"
	"math"
	"testing"

	"github.com/vistudy/vistudy/arrowio"
)

var sds = []string{"0.16", "0.08", "0.04", "0.02"} // strongest first

// bandAcc gives one model's accuracy rows: acc[f] lists band f's accuracies at sds (strongest first).
func bandAcc(model string, acc [][]float64, n int64) []arrowio.Result {
	var out []arrowio.Result
	for f, row := range acc {
		for i, v := range row {
			out = append(out, arrowio.Result{Model: model, Metric: "top1", Group: fmt.Sprintf("band=%d,sd=%s", f, sds[i]), Value: v, N: n})
		}
	}
	return out
}

// Model a, clean 0.8, relative threshold 0.5 → a level counts while accuracy ≤ 0.4. Per band (sd 0.16 → 0.02):
//
//	band 0 [0.5 0.6 0.7 0.8] → 0      band 4 [0.1 0.4 0.6 0.8] → 2
//	band 1 [0.3 0.5 0.7 0.8] → 1      band 5 [0.3 0.5 0.2 0.8] → 1 (0.2 comes after the first above)
//	band 2 [0.1 0.4 0.6 0.8] → 2 (0.4 = 50 % of clean counts)
//	band 3 [0.1 0.2 0.3 0.7] → 3      band 6 [0.6 0.7 0.8 0.8] → 0
//
// Raw (accuracy ≤ 0.5): 1 2 2 3 2 3 0.
var accA = [][]float64{
	{0.5, 0.6, 0.7, 0.8}, {0.3, 0.5, 0.7, 0.8}, {0.1, 0.4, 0.6, 0.8}, {0.1, 0.2, 0.3, 0.7},
	{0.1, 0.4, 0.6, 0.8}, {0.3, 0.5, 0.2, 0.8}, {0.6, 0.7, 0.8, 0.8},
}

// Model b is untouched by any noise: every threshold is 0, so the fit must fail.
var accB = [][]float64{
	{0.9, 0.9, 0.9, 0.9}, {0.8, 0.9, 0.9, 0.9}, {0.9, 0.9, 0.9, 0.9}, {0.9, 0.9, 0.9, 0.9},
	{0.9, 0.9, 0.9, 0.9}, {0.9, 0.9, 0.9, 0.9}, {0.9, 0.9, 0.9, 0.9},
}

// byMetric indexes one model's rows.
func byMetric(rows []arrowio.Result, model string) map[string]arrowio.Result {
	out := map[string]arrowio.Result{}
	for _, r := range rows {
		if r.Model == model {
			out[r.Metric+"|"+r.Group] = r
		}
	}
	return out
}

func TestCriticalBand(t *testing.T) {
	noisy := append(bandAcc("a", accA, 50), bandAcc("b", accB, 50)...)
	noisy[9].N = 40 // band 2, sd 0.08 of model a: band 2's threshold row carries the smaller n
	clean := []arrowio.Result{row("a", "top1", "", 0.8, 60), row("b", "top1", "", 0.9, 60), row("c", "top1", "", 0.7, 60)}
	// The same clean accuracy given as band=-1 rows of the noisy stage (N-weighted mean 0.8).
	selfClean := append(noisy[:len(noisy):len(noisy)], row("a", "top1", "band=-1,sd=0.02", 0.7, 30), row("a", "top1", "band=-1,sd=0.04", 0.85, 60),
		row("b", "top1", "band=-1", 0.9, 50))
	cases := []struct {
		name       string
		raw        map[string]any
		in         Inputs
		thresholds []float64
	}{
		{"relative to clean stage", map[string]any{"clean": "clean", "noisy": "noisy"}, Inputs{"clean": clean, "noisy": noisy},
			[]float64{0, 1, 2, 3, 2, 1, 0}},
		{"relative to band=-1 rows", map[string]any{"noisy": "noisy"}, Inputs{"noisy": selfClean}, []float64{0, 1, 2, 3, 2, 1, 0}},
		{"raw", map[string]any{"noisy": "noisy", "normalise": "raw"}, Inputs{"noisy": noisy}, []float64{1, 2, 2, 3, 2, 3, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := runFunc(t, "criticalband", c.raw, []string{"clean", "noisy"}, c.in)
			if err != nil {
				t.Fatal(err)
			}
			a := byMetric(got, "a")
			for f, want := range c.thresholds {
				r, ok := a[fmt.Sprintf("threshold|band=%d", f)]
				wantN := int64(50)
				if f == 2 {
					wantN = 40
				}
				if !ok || r.Value != want || r.N != wantN {
					t.Errorf("band %d: got %+v (present %v), want threshold %v n %d", f, r, ok, want, wantN)
				}
			}
			if len(a) != 7+7 {
				t.Errorf("model a: %d rows, want 7 thresholds + 7 fit rows: %v", len(a), a)
			}
			// The fit rows must be the stated functions of the fitted parameters, and those a least-squares fit.
			A, mu, sigma := a["fit_a|"].Value, a["fit_mu|"].Value, a["fit_sigma|"].Value
			checks := []struct {
				metric string
				want   float64
			}{
				{"bandwidth", 2 * math.Sqrt(math.Log(4)) * sigma},
				{"center_frequency", 1.75 * math.Pow(2, mu)},
				{"peak_noise_sensitivity", math.Pow(2, A-4)},
				{"fit_rmse", rmse(c.thresholds, A, mu, sigma)},
			}
			for _, ch := range checks {
				if r := a[ch.metric+"|"]; math.Abs(r.Value-ch.want) > 1e-9 || r.N != 40 {
					t.Errorf("%s = %+v, want %v with n 40", ch.metric, r, ch.want)
				}
			}
			if A <= 0 || A > 4 || sigma < 0.25 {
				t.Errorf("fit outside its constraints: A=%v μ=%v σ=%v", A, mu, sigma)
			}
			for i, h := range []float64{1e-4, -1e-4, 1e-4, -1e-4, 1e-4, -1e-4} {
				p := [3]float64{A, mu, sigma}
				p[i/2] += h
				if p[0] <= 4 && rmse(c.thresholds, p[0], p[1], p[2]) < a["fit_rmse|"].Value-1e-12 {
					t.Errorf("moving parameter %d by %g lowers the residual: not a least-squares fit", i/2, h)
				}
			}
			b := byMetric(got, "b")
			if r, ok := b["fit_failed|reason=all thresholds are 0"]; !ok || r.Value != 1 || len(b) != 8 {
				t.Errorf("model b: want 7 thresholds and one fit_failed row, got %v", b)
			}
			for k := range b {
				if k != "fit_failed|reason=all thresholds are 0" && k[:9] != "threshold" {
					t.Errorf("model b has numeric fit row %s despite the failed fit", k)
				}
			}
			if _, ok := byMetric(got, "c")["threshold|band=0"]; ok {
				t.Errorf("model c has no noisy rows and must not appear")
			}
		})
	}
}

// rmse is the root mean squared residual of the Gaussian at x = 0..len(y)-1.
func rmse(y []float64, a, mu, sigma float64) float64 {
	var s float64
	for i, v := range y {
		d := a*math.Exp(-(float64(i)-mu)*(float64(i)-mu)/(2*sigma*sigma)) - v
		s += d * d
	}
	return math.Sqrt(s / float64(len(y)))
}

func TestCriticalBandSymmetricCentre(t *testing.T) {
	// Thresholds 0 1 2 3 2 1 0 are symmetric about band 3: μ = 3 and the centre is 1.75·2³ = 14 cycles/image.
	got, err := runFunc(t, "criticalband", map[string]any{"clean": "clean", "noisy": "noisy", "base_frequency": 2.0},
		[]string{"clean", "noisy"}, Inputs{"clean": {row("a", "top1", "", 0.8, 10)}, "noisy": bandAcc("a", [][]float64{
			{0.8, 0.8, 0.8, 0.8}, {0.1, 0.8, 0.8, 0.8}, {0.1, 0.1, 0.8, 0.8}, {0.1, 0.1, 0.1, 0.8},
			{0.1, 0.1, 0.8, 0.8}, {0.1, 0.8, 0.8, 0.8}, {0.8, 0.8, 0.8, 0.8}}, 10)})
	if err != nil {
		t.Fatal(err)
	}
	a := byMetric(got, "a")
	if mu := a["fit_mu|"].Value; math.Abs(mu-3) > 1e-6 {
		t.Errorf("μ = %v, want 3", mu)
	}
	if cf := a["center_frequency|"].Value; math.Abs(cf-16) > 1e-5 {
		t.Errorf("centre frequency = %v, want 2·2³ = 16 with base_frequency 2", cf)
	}
}

func TestCriticalBandErrors(t *testing.T) {
	inputs := []string{"clean", "noisy"}
	full := bandAcc("m", accA, 10)
	cases := []struct {
		name      string
		raw       map[string]any
		in        Inputs
		fragments []string
	}{
		{"clean accuracy 0", map[string]any{"clean": "clean", "noisy": "noisy"},
			Inputs{"clean": {row("m", "top1", "", 0, 10)}, "noisy": full}, []string{`model "m"`, "is 0"}},
		{"no clean at all", map[string]any{"noisy": "noisy"}, Inputs{"noisy": full}, []string{`model "m"`, "band=-1"}},
		{"model missing from clean stage", map[string]any{"clean": "clean", "noisy": "noisy"},
			Inputs{"clean": {row("z", "top1", "", 0.5, 10)}, "noisy": full}, []string{`model "m"`, `"clean"`}},
		{"band missing", map[string]any{"noisy": "noisy", "normalise": "raw"}, Inputs{"noisy": full[:24]},
			[]string{`model "m"`, "band=6"}},
		{"band beyond bands", map[string]any{"noisy": "noisy", "normalise": "raw", "bands": 6}, Inputs{"noisy": full},
			[]string{`model "m"`, "band 6 is outside 0..5"}},
		{"duplicate point", map[string]any{"noisy": "noisy", "normalise": "raw"},
			Inputs{"noisy": append(full[:len(full):len(full)], row("m", "top1", "band=0,sd=0.16", 0.1, 10))}, []string{`model "m"`, "band=0,sd=0.16"}},
		{"no band rows", map[string]any{"noisy": "noisy"}, Inputs{"noisy": {row("m", "top1", "", 0.5, 10)}}, []string{`"noisy"`, "band=<f>"}},
		{"noisy stage not an input", map[string]any{"noisy": "other"}, Inputs{"other": full}, []string{`"other"`, "not among"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runFunc(t, "criticalband", c.raw, inputs, c.in)
			assertErr(t, err, c.fragments...)
		})
	}
}
