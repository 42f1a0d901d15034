package aggregate

import (
	"testing"

	"github.com/vistudy/vistudy/arrowio"
)

func TestSpectralBias(t *testing.T) {
	raw := map[string]any{"clean": "acc", "lowpass": "lp", "highpass": "hp"}
	inputs := []string{"acc", "lp", "hp"}
	// Model a: clean 0.8. Low-pass ratios 0.125 0.5 0.75 1 1 at c = 0.01 0.1 0.3 0.5 0.9 → LPP (c in
	// [0.1, 0.5]) = (0.5+0.75+1)/3 = 0.75. High-pass ratios 0.25 0.125 0 1 at c = 0.1 0.3 0.5 0.99 → HPP
	// = 0.375/3 = 0.125. Bias = 0.125/0.875 = 1/7. Model b: clean 0.5, LPP 0.5, HPP 0.75, bias 0.6.
	good := Inputs{
		"acc": {row("a", "top1", "", 0.8, 100), row("a", "top5", "", 0.9, 100), row("b", "top1", "", 0.5, 100)},
		"lp": {
			row("a", "top1", "c=0.01", 0.1, 100), row("a", "top1", "c=0.1", 0.4, 100), row("a", "top1", "c=0.3", 0.6, 90),
			row("a", "top1", "c=0.5", 0.8, 100), row("a", "top1", "c=0.9", 0.8, 100), row("a", "top5", "c=0.1", 0.9, 100),
			row("b", "top1", "c=0.5", 0.25, 100), row("b", "top1", "c=0.1", 0.25, 100),
		},
		"hp": {
			row("a", "top1", "c=0.1", 0.2, 100), row("a", "top1", "c=0.3", 0.1, 100), row("a", "top1", "c=0.5", 0, 100),
			row("a", "top1", "c=0.99", 0.8, 100),
			row("b", "top1", "c=0.1", 0.5, 80), row("b", "top1", "c=0.5", 0.25, 100),
		},
	}
	want := []struct {
		model, metric, group string
		value                float64
		n                    int64
	}{
		{"a", "lowpass_ratio", "c=0.01", 0.125, 100}, {"a", "lowpass_ratio", "c=0.1", 0.5, 100},
		{"a", "lowpass_ratio", "c=0.3", 0.75, 90}, {"a", "lowpass_ratio", "c=0.5", 1, 100},
		{"a", "lowpass_ratio", "c=0.9", 1, 100},
		{"a", "highpass_ratio", "c=0.1", 0.25, 100}, {"a", "highpass_ratio", "c=0.3", 0.125, 100},
		{"a", "highpass_ratio", "c=0.5", 0, 100}, {"a", "highpass_ratio", "c=0.99", 1, 100},
		{"a", "lpp", "", 0.75, 90}, {"a", "hpp", "", 0.125, 100}, {"a", "spectral_bias", "", 1.0 / 7, 90},
		{"b", "lowpass_ratio", "c=0.1", 0.5, 100}, {"b", "lowpass_ratio", "c=0.5", 0.5, 100},
		{"b", "highpass_ratio", "c=0.1", 1, 80}, {"b", "highpass_ratio", "c=0.5", 0.5, 100},
		{"b", "lpp", "", 0.5, 100}, {"b", "hpp", "", 0.75, 80}, {"b", "spectral_bias", "", 0.6, 80},
	}
	got, err := runFunc(t, "spectralbias", raw, inputs, good)
	if err != nil {
		t.Fatal(err)
	}
	exp := make([]arrowio.Result, len(want))
	for i, w := range want {
		exp[i] = row(w.model, w.metric, w.group, w.value, w.n)
	}
	assertRows(t, got, exp, 1e-12)

	// A narrower range and another key name: only c=0.1 counts; a: LPP 0.5, HPP 0.25, bias 1/3.
	keyed := Inputs{"acc": good["acc"][:1], "lp": relabel(good["lp"][:5], "c", "cut"), "hp": relabel(good["hp"][:4], "c", "cut")}
	got, err = runFunc(t, "spectralbias", map[string]any{"clean": "acc", "lowpass": "lp", "highpass": "hp",
		"key": "cut", "range": []any{0.1, 0.1}}, inputs, keyed)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got); n != 12 || got[9].Value != 0.5 || got[10].Value != 0.25 || got[11].Value != 1.0/3 {
		t.Errorf("range [0.1, 0.1] with key cut: got %v", got)
	}
}

func relabel(rows []arrowio.Result, from, to string) []arrowio.Result {
	out := make([]arrowio.Result, len(rows))
	for i, r := range rows {
		r.Group = to + r.Group[len(from):]
		out[i] = r
	}
	return out
}

func TestSpectralBiasErrors(t *testing.T) {
	inputs := []string{"acc", "lp", "hp"}
	base := map[string]any{"clean": "acc", "lowpass": "lp", "highpass": "hp"}
	curve := []arrowio.Result{row("m", "top1", "c=0.1", 0.3, 10), row("m", "top1", "c=0.5", 0.2, 10)}
	cases := []struct {
		name      string
		raw       map[string]any
		in        Inputs
		fragments []string
	}{
		{"clean accuracy 0", base, Inputs{"acc": {row("m", "top1", "", 0, 10)}, "lp": curve, "hp": curve},
			[]string{`model "m"`, "is 0"}},
		{"clean stage not an input", map[string]any{"clean": "other", "lowpass": "lp", "highpass": "hp"},
			Inputs{"other": {row("m", "top1", "", 0.5, 10)}, "lp": curve, "hp": curve}, []string{`"other"`, "not among"}},
		{"model missing from high-pass", base, Inputs{"acc": {row("m", "top1", "", 0.5, 10)}, "lp": curve,
			"hp": {row("z", "top1", "c=0.1", 0.3, 10)}}, []string{`model "m"`, "highpass"}},
		{"model without clean row", base, Inputs{"acc": {row("m", "top1", "", 0.5, 10)}, "lp": append(curve, row("z", "top1", "c=0.1", 0.1, 10)),
			"hp": curve}, []string{`model "z"`, "clean stage"}},
		{"nothing in range", map[string]any{"clean": "acc", "lowpass": "lp", "highpass": "hp", "range": []any{0.6, 0.9}},
			Inputs{"acc": {row("m", "top1", "", 0.5, 10)}, "lp": curve, "hp": curve}, []string{`model "m"`, "[0.6, 0.9]"}},
		{"LPP and HPP zero", base, Inputs{"acc": {row("m", "top1", "", 0.5, 10)},
			"lp": {row("m", "top1", "c=0.2", 0, 10)}, "hp": {row("m", "top1", "c=0.2", 0, 10)}}, []string{`model "m"`, "undefined"}},
		{"duplicate sweep point", base, Inputs{"acc": {row("m", "top1", "", 0.5, 10)}, "lp": append(curve, row("m", "top1", "c=0.10", 0.3, 10)),
			"hp": curve}, []string{`model "m"`, "c=0.1"}},
		{"range not a pair", map[string]any{"clean": "acc", "lowpass": "lp", "highpass": "hp", "range": []any{0.5, 0.1}},
			Inputs{"acc": {row("m", "top1", "", 0.5, 10)}, "lp": curve, "hp": curve}, []string{"range"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runFunc(t, "spectralbias", c.raw, inputs, c.in)
			assertErr(t, err, c.fragments...)
		})
	}
}
