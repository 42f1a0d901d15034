package aggregate

import (
	"testing"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
)

// mceRows: model a and baseline model base on fog and snow at severities 1 and 2.
var mceRows = []arrowio.Result{
	row("a", "top1", "name=fog,severity=1", 0.8, 100), row("a", "top1", "name=fog,severity=2", 0.6, 100),
	row("a", "top1", "name=snow,severity=1", 0.7, 100), row("a", "top1", "name=snow,severity=2", 0.5, 90),
	row("base", "top1", "name=fog,severity=1", 0.5, 100), row("base", "top1", "name=fog,severity=2", 0.3, 100),
	row("base", "top1", "name=snow,severity=1", 0.4, 100), row("base", "top1", "name=snow,severity=2", 0.2, 100),
	row("a", "top5", "name=fog,severity=1", 0.99, 100), // another metric
	row("a", "top1", "", 0.01, 100),                    // not part of the grid
}

var mceCleanRows = []arrowio.Result{row("a", "top1", "", 0.9, 100), row("base", "top1", "", 0.7, 100)}

// aSummary is model a's accuracy rows, by hand: fog (0.8+0.6)/2, snow (0.7+0.5)/2, severity 1
// (0.8+0.7)/2, severity 2 (0.6+0.5)/2, overall the mean of the four.
var aSummary = []arrowio.Result{
	row("a", "accuracy", "corruption=fog", 0.7, 100),
	row("a", "cell_accuracy", "corruption=fog,severity=1", 0.8, 100), row("a", "cell_accuracy", "corruption=fog,severity=2", 0.6, 100),
	row("a", "accuracy", "corruption=snow", 0.6, 90),
	row("a", "cell_accuracy", "corruption=snow,severity=1", 0.7, 100), row("a", "cell_accuracy", "corruption=snow,severity=2", 0.5, 90),
	row("a", "severity_accuracy", "severity=1", 0.75, 100), row("a", "severity_accuracy", "severity=2", 0.55, 90),
	row("a", "mean_accuracy", "", 0.65, 90),
}

// aCE is model a's CE against base: fog (0.2+0.4)/(0.5+0.7) = 0.5, snow (0.3+0.5)/(0.6+0.8) = 4/7;
// relative with clean errors 0.1 (a) and 0.3 (base): fog (0.6−0.2)/(1.2−0.6) = 2/3, snow
// (0.8−0.2)/(1.4−0.6) = 3/4.
var aCE = []arrowio.Result{
	row("a", "ce", "corruption=fog", 0.5, 100), row("a", "relative_ce", "corruption=fog", 2.0/3, 100),
	row("a", "ce", "corruption=snow", 4.0/7, 90), row("a", "relative_ce", "corruption=snow", 0.75, 90),
	row("a", "mce", "", (0.5+4.0/7)/2, 90), row("a", "relative_mce", "", (2.0/3+0.75)/2, 90),
}

func TestMCE(t *testing.T) {
	baseRows := []arrowio.Result{
		row("base", "accuracy", "corruption=fog", 0.4, 100),
		row("base", "cell_accuracy", "corruption=fog,severity=1", 0.5, 100), row("base", "cell_accuracy", "corruption=fog,severity=2", 0.3, 100),
		row("base", "accuracy", "corruption=snow", 0.3, 100),
		row("base", "cell_accuracy", "corruption=snow,severity=1", 0.4, 100), row("base", "cell_accuracy", "corruption=snow,severity=2", 0.2, 100),
		row("base", "severity_accuracy", "severity=1", 0.45, 100), row("base", "severity_accuracy", "severity=2", 0.25, 100),
		row("base", "mean_accuracy", "", 0.35, 100),
		row("base", "ce", "corruption=fog", 1, 100), row("base", "relative_ce", "corruption=fog", 1, 100),
		row("base", "ce", "corruption=snow", 1, 100), row("base", "relative_ce", "corruption=snow", 1, 100),
		row("base", "mce", "", 1, 100), row("base", "relative_mce", "", 1, 100),
	}
	withoutClean := []arrowio.Result{aCE[0], aCE[2], aCE[4]}
	table := []any{"fog/1=0.5", "fog/2=0.7", "snow/1=0.6", "snow/2=0.8"}
	cat := func(parts ...[]arrowio.Result) (out []arrowio.Result) {
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	onlyA := mceRows[:4]
	cases := []struct {
		name string
		raw  map[string]any
		in   []arrowio.Result
		want []arrowio.Result
	}{
		{"accuracy only", map[string]any{"corrupted": "c"}, onlyA, aSummary},
		{"baseline model", map[string]any{"corrupted": "c", "baseline": "base", "clean": "clean"}, mceRows, cat(aSummary, aCE, baseRows)},
		{"baseline model, no clean", map[string]any{"corrupted": "c", "baseline": "base"}, mceRows,
			cat(aSummary, withoutClean, baseRows[:9], []arrowio.Result{baseRows[9], baseRows[11], baseRows[13]})},
		{"error table", map[string]any{"corrupted": "c", "baseline_errors": table, "baseline_clean_error": 0.3, "clean": "clean"}, onlyA, cat(aSummary, aCE)},
		{"error table, no clean", map[string]any{"corrupted": "c", "baseline_errors": table}, onlyA, cat(aSummary, withoutClean)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := runFunc(t, "mce", c.raw, []string{"c", "clean"}, Inputs{"c": c.in, "clean": mceCleanRows})
			if err != nil {
				t.Fatal(err)
			}
			assertRows(t, got, c.want, 1e-12)
		})
	}
}

func TestMCEPublishedAndMeanEntries(t *testing.T) {
	// published AlexNet: gaussian_noise severity 3 has error 0.93554, clean 0.435. Accuracy 0.5 and
	// clean accuracy 0.7 give CE 0.5/0.93554 and relative CE (0.5−0.3)/(0.93554−0.435).
	rows := []arrowio.Result{row("m", "top1", "name=gaussian_noise,severity=3", 0.5, 50)}
	got, err := runFunc(t, "mce", map[string]any{"corrupted": "c", "published": "alexnet", "clean": "clean"}, []string{"c", "clean"},
		Inputs{"c": rows, "clean": {row("m", "top1", "", 0.7, 60)}})
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, got, []arrowio.Result{
		row("m", "accuracy", "corruption=gaussian_noise", 0.5, 50), row("m", "cell_accuracy", "corruption=gaussian_noise,severity=3", 0.5, 50),
		row("m", "severity_accuracy", "severity=3", 0.5, 50),
		row("m", "mean_accuracy", "", 0.5, 50),
		row("m", "ce", "corruption=gaussian_noise", 0.5/0.93554, 50),
		row("m", "relative_ce", "corruption=gaussian_noise", 0.2/(0.93554-0.435), 50),
		row("m", "mce", "", 0.5/0.93554, 50), row("m", "relative_mce", "", 0.2/(0.93554-0.435), 50),
	}, 1e-12)
	// a mean entry: fog at severities 1–5 with accuracies 0.9 … 0.5 (errors sum 1.5) against a mean error 0.6 (sum 3)
	var fog []arrowio.Result
	for s := 1; s <= 5; s++ {
		fog = append(fog, row("m", "top1", "name=fog,severity="+string(rune('0'+s)), 1-0.1*float64(s), 10))
	}
	got, err = runFunc(t, "mce", map[string]any{"corrupted": "c", "baseline_errors": []any{"fog=0.6"}}, []string{"c"}, Inputs{"c": fog})
	if err != nil {
		t.Fatal(err)
	}
	if last := got[len(got)-1]; last.Metric != "mce" || last.Value < 0.5-1e-12 || last.Value > 0.5+1e-12 {
		t.Errorf("mCE row %+v, want 0.5", last)
	}
}

func TestMCEErrors(t *testing.T) {
	f, _ := Lookup("mce")
	cases := []struct {
		name      string
		raw       map[string]any
		in        Inputs
		fragments []string
	}{
		{"baseline model lacks a cell", map[string]any{"corrupted": "c", "baseline": "base"},
			Inputs{"c": mceRows[:7]}, []string{`"base"`, "name=snow,severity=2"}},
		{"baseline model absent", map[string]any{"corrupted": "c", "baseline": "alexnet"}, Inputs{"c": mceRows}, []string{`"alexnet"`, "a, base"}},
		{"table lacks a corruption", map[string]any{"corrupted": "c", "baseline_errors": []any{"fog/1=0.5", "fog/2=0.5"}}, Inputs{"c": mceRows[:4]}, []string{"snow"}},
		{"table lacks a severity", map[string]any{"corrupted": "c", "baseline_errors": []any{"fog/1=0.5", "snow/1=0.5", "snow/2=0.5"}},
			Inputs{"c": mceRows[:4]}, []string{"fog/2"}},
		{"mean entry, partial severities", map[string]any{"corrupted": "c", "baseline_errors": []any{"fog=0.5", "snow=0.5"}},
			Inputs{"c": mceRows[:4]}, []string{"fog", "severities"}},
		{"published lacks a corruption", map[string]any{"corrupted": "c", "published": "alexnet"},
			Inputs{"c": {row("m", "top1", "name=speckle_noise,severity=1", 0.5, 10)}}, []string{"speckle_noise"}},
		{"relative without the table's clean error", map[string]any{"corrupted": "c", "clean": "clean", "baseline_errors": []any{"fog/1=0.5"}},
			Inputs{"c": {mceRows[0]}, "clean": mceCleanRows}, []string{"baseline_clean_error"}},
		{"model missing from clean", map[string]any{"corrupted": "c", "clean": "clean", "published": "alexnet"},
			Inputs{"c": {row("z", "top1", "name=fog,severity=1", 0.5, 10)}, "clean": mceCleanRows}, []string{`"z"`, `"clean"`}},
		{"listed corruption absent", map[string]any{"corrupted": "c", "corruptions": []any{"fog", "frost"}}, Inputs{"c": mceRows[:4]}, []string{"frost"}},
		{"bad severity", map[string]any{"corrupted": "c"}, Inputs{"c": {row("m", "top1", "name=fog,severity=7", 0.5, 10)}}, []string{"severity=7"}},
		{"no grid rows", map[string]any{"corrupted": "c"}, Inputs{"c": {row("m", "top1", "threshold=1", 0.5, 10)}}, []string{`"c"`, "name=<corruption>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runFunc(t, "mce", c.raw, []string{"c", "clean"}, c.in)
			assertErr(t, err, c.fragments...)
		})
	}
	for _, raw := range []map[string]any{
		{"corrupted": "c", "baseline": "a", "published": "alexnet"},
		{"corrupted": "c", "baseline_errors": []any{"fog=high"}},
		{"corrupted": "c", "baseline_errors": []any{"fog/9=0.5"}},
		{"corrupted": "x"},
	} {
		p, errs := params.Check(f.Params, raw)
		if len(errs) > 0 {
			t.Fatalf("%v: %v", raw, errs)
		}
		if err := f.Check(p, []string{"c", "clean"}); err == nil {
			t.Errorf("Check accepted %v", raw)
		}
	}
}
