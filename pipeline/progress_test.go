package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
)

// recorder is a Progress that keeps the run's tracker and its last snapshot.
type recorder struct {
	t    *pipeline.Tracker
	last pipeline.Snapshot
}

func (r *recorder) Start(t *pipeline.Tracker) { r.t = t }
func (r *recorder) Wait()                     { r.last = r.t.Snapshot() }

// wavesStudy is the colour world's study with three names for its model, run one model per wave.
func wavesStudy(w *testenv.ColourWorld, t *testing.T, output string) string {
	t.Helper()
	model := fmt.Sprintf("{path: %s, input: {size: 16, resize: 16}, labels: %s}", w.Model, w.Labels)
	body := fmt.Sprintf(`name: waves
seed: 3
output: %s
execution: {batch_size: 4, unit_size: 8, parallel_models: 1}
models: {a: %s, b: %s, c: %s}
datasets:
  colours: {kind: imagefolder, path: %s}
stages:
  - id: images
    load: {dataset: colours}
  - id: preds
    infer: {input: images}
  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1]}}
`, output, model, model, model, w.Data)
	p := filepath.Join(w.Dir, "waves-"+filepath.Base(output)+".yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProgressTotals: the tracker's totals, predicted before any work over three waves, are
// what the run processes: a finished run ends every stage at its total (less the inputs the
// source skipped, for the stages after it), an interrupted one below it, and a resumed one counts
// only what is left, with the units an earlier run committed as resumed.
func TestProgressTotals(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	const inputs, skipped, units = 55, 3, 7 // the colour world: 52 images and 3 broken files, in units of 8
	type want struct {
		id      string
		models  int
		total   int64
		done    int64
		unitsOf bool
	}
	check := func(t *testing.T, s pipeline.Snapshot, stages []want, finished bool) {
		t.Helper()
		if len(s.Stages) != len(stages) {
			t.Fatalf("%d stages counted, want %d: %+v", len(s.Stages), len(stages), s.Stages)
		}
		for i, wt := range stages {
			st := s.Stages[i]
			if st.ID != wt.id || st.Models != wt.models || st.Total != wt.total || st.Units != wt.unitsOf || st.Finished != finished {
				t.Errorf("stage %d: %+v, want %+v finished=%v", i, st, wt, finished)
			}
			if wt.done >= 0 && st.Done != wt.done {
				t.Errorf("stage %s: %d done, want %d", st.ID, st.Done, wt.done)
			}
		}
	}

	whole := filepath.Join(w.Dir, "whole")
	r := &recorder{}
	if err := pipeline.Run(context.Background(), plan(t, wavesStudy(w, t, whole), cat), pipeline.Options{Catalog: cat, Progress: r}); err != nil {
		t.Fatal(err)
	}
	// The model-free load runs again in every wave; its units are committed once.
	check(t, r.last, []want{{"images", 0, 3 * inputs, 3 * inputs, false}, {"preds", 3, 3 * inputs, 3 * (inputs - skipped), false}}, true)
	for _, st := range r.last.Stages {
		if st.Waves != 3 {
			t.Errorf("stage %s runs in %d waves, want 3", st.ID, st.Waves)
		}
	}
	if s := r.last; s.Units != units+3*units+3*units || s.Committed != s.Units || s.Resumed != 0 || s.Skipped != skipped {
		t.Errorf("units %d, committed %d, resumed %d, skipped %d; want 49, 49, 0, 3", s.Units, s.Committed, s.Resumed, s.Skipped)
	}

	// Interrupted in the second wave.
	out := filepath.Join(w.Dir, "resumed")
	p := plan(t, wavesStudy(w, t, out), cat)
	ctx, cancel := context.WithCancel(context.Background())
	r = &recorder{}
	accs := 0
	err := pipeline.Run(ctx, p, pipeline.Options{Catalog: cat, Progress: r, AfterCommit: func(in *pipeline.Instance, _ string) {
		if in.Stage.ID == "acc" {
			if accs++; accs == units+2 {
				cancel()
			}
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	check(t, r.last, []want{{"images", 0, 3 * inputs, -1, false}, {"preds", 3, 3 * inputs, -1, false}}, false)
	first := r.last
	for _, st := range first.Stages {
		if st.Done >= st.Total || st.Done < inputs {
			t.Errorf("interrupted in the second wave, stage %s counts %d of %d", st.ID, st.Done, st.Total)
		}
	}
	if first.Committed >= first.Units || first.Committed < units+2 {
		t.Errorf("interrupted: %d of %d units committed", first.Committed, first.Units)
	}

	// Resumed: the first wave's model is done, the rest (and the load's straggling units) is left.
	r = &recorder{}
	if err := pipeline.Run(context.Background(), p, pipeline.Options{Catalog: cat, Progress: r}); err != nil {
		t.Fatal(err)
	}
	s := r.last
	if s.Resumed != first.Committed || s.Committed != s.Units-s.Resumed {
		t.Errorf("resumed run: %d resumed (the first run committed %d), %d committed of %d", s.Resumed, first.Committed, s.Committed, s.Units)
	}
	for _, st := range s.Stages {
		if !st.Finished || st.Total >= 3*inputs || st.Done > st.Total || st.Total-st.Done > 2*skipped {
			t.Errorf("resumed run, stage %s: %d of %d, finished %v", st.ID, st.Done, st.Total, st.Finished)
		}
	}

	// Nothing is left: no stage counts anything, every unit is resumed.
	r = &recorder{}
	if err := pipeline.Run(context.Background(), p, pipeline.Options{Catalog: cat, Progress: r}); err != nil {
		t.Fatal(err)
	}
	if s := r.last; len(s.Stages) != 0 || s.Resumed != s.Units || s.Committed != 0 {
		t.Errorf("a finished run again: %d stages, %d of %d resumed, %d committed", len(s.Stages), s.Resumed, s.Units, s.Committed)
	}
}
