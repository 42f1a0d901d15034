package aggregate

import (
	"testing"

	"github.com/vistudy/vistudy/arrowio"
)

func TestSolarization(t *testing.T) {
	// Model a: accuracy 0.7 0.3 0.2 0.2 0.6 at t = 0 0.25 0.5 0.75 1 → min 0.2, first reached at t = 0.5.
	// Model b: 0.5 0.1 0.4 at t = 1 0.25 0 (rows unordered) → min 0.1 at 0.25. Clean a 0.8, b 0.6.
	sweepRows := []arrowio.Result{
		row("a", "top1", "threshold=0", 0.7, 100), row("a", "top1", "threshold=0.25", 0.3, 100),
		row("a", "top1", "threshold=0.75", 0.2, 100), row("a", "top1", "threshold=0.5", 0.2, 90),
		row("a", "top1", "threshold=1", 0.6, 100), row("a", "top5", "threshold=0.9", 0.01, 100),
		row("a", "top1", "", 0.01, 100), // not part of the sweep
		row("b", "top1", "threshold=1", 0.5, 50), row("b", "top1", "threshold=0.25", 0.1, 50), row("b", "top1", "threshold=0", 0.4, 50),
	}
	clean := []arrowio.Result{row("a", "top1", "", 0.8, 80), row("b", "top1", "", 0.6, 100)}
	cases := []struct {
		name string
		raw  map[string]any
		want []arrowio.Result
	}{
		{"without clean", map[string]any{"sweep": "sol"}, []arrowio.Result{
			row("a", "min_accuracy", "", 0.2, 90), row("a", "argmin_threshold", "", 0.5, 90),
			row("b", "min_accuracy", "", 0.1, 50), row("b", "argmin_threshold", "", 0.25, 50),
		}},
		{"with clean", map[string]any{"sweep": "sol", "clean": "acc"}, []arrowio.Result{
			row("a", "min_accuracy", "", 0.2, 90), row("a", "argmin_threshold", "", 0.5, 90), row("a", "accuracy_drop", "", 0.6, 80),
			row("b", "min_accuracy", "", 0.1, 50), row("b", "argmin_threshold", "", 0.25, 50), row("b", "accuracy_drop", "", 0.5, 50),
		}},
		{"top5", map[string]any{"sweep": "sol", "metric": "top5"}, []arrowio.Result{
			row("a", "min_accuracy", "", 0.01, 100), row("a", "argmin_threshold", "", 0.9, 100),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := runFunc(t, "solarization", c.raw, []string{"sol", "acc"}, Inputs{"sol": sweepRows, "acc": clean})
			if err != nil {
				t.Fatal(err)
			}
			assertRows(t, got, c.want, 1e-12)
		})
	}
}

func TestSolarizationErrors(t *testing.T) {
	curve := []arrowio.Result{row("m", "top1", "threshold=0.5", 0.3, 10)}
	cases := []struct {
		name      string
		raw       map[string]any
		in        Inputs
		fragments []string
	}{
		{"no sweep rows", map[string]any{"sweep": "sol"}, Inputs{"sol": {row("m", "top1", "", 0.3, 10)}}, []string{`"sol"`, "threshold=<value>"}},
		{"model missing from clean", map[string]any{"sweep": "sol", "clean": "acc"}, Inputs{"sol": curve, "acc": {row("z", "top1", "", 0.3, 10)}},
			[]string{`model "m"`, `"acc"`}},
		{"threshold not a number", map[string]any{"sweep": "sol"}, Inputs{"sol": {row("m", "top1", "threshold=high", 0.3, 10)}},
			[]string{`model "m"`, "not a number"}},
		{"clean stage not an input", map[string]any{"sweep": "sol", "clean": "x"}, Inputs{"sol": curve, "x": curve}, []string{`"x"`, "not among"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runFunc(t, "solarization", c.raw, []string{"sol", "acc"}, c.in)
			assertErr(t, err, c.fragments...)
		})
	}
}
