package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/stages/load/synth"
)

// TestFishExample runs examples/fish.yaml: SqueezeNet fp16, BGR 0–255 without mean subtraction,
// must call fish.png a tench with probability 0.7378 (the model folder's reference output).
func TestFishExample(t *testing.T) {
	testenv.SharedData(t, "models", "squeezenet1.1-fp16", "fish.png")
	bin := vistudyBin(t)
	out := t.TempDir()
	mustRun(t, bin, "run", filepath.Join(testenv.Root(t), "examples", "fish.yaml"), "--output", out)
	rec, err := pqfile.ReadParquet(filepath.Join(out, "tables", "preds", "model-squeezenet", "part-u00000.parquet"), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	preds, _ := arrowio.Int32Column(rec, arrowio.ColPred)
	conf := rec.Column(rec.Schema().FieldIndices(arrowio.ColConfidence)[0]).(*array.Float32)
	if len(preds) != 1 || preds[0] != 0 || math.Abs(float64(conf.Value(0))-0.7378) > 0.002 {
		t.Errorf("fish.png: class %v with confidence %v, want tench (0) with 0.7378 ± 0.002", preds, conf.Value(0))
	}
}

// TestStimuliSynth: `vistudy stimuli synth` writes the Geirhos layout, byte for byte what the
// generator renders for the same settings.
func TestStimuliSynth(t *testing.T) {
	bin := vistudyBin(t)
	out := t.TempDir()
	mustRun(t, bin, "stimuli", "synth", "--out", out, "--set", "conflict", "--per-pair", "1", "--seed", "3", "--size", "32")
	ref := t.TempDir()
	if err := synth.WriteDir(ref, synth.Config{Set: synth.Conflict, PerPair: 1, Seed: 3, Size: 32}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*", "*.png"))
	if len(files) != 56 { // 8 shapes × 7 other textures
		t.Fatalf("%d files, want 56", len(files))
	}
	for _, f := range files {
		rel, _ := filepath.Rel(out, f)
		a, _ := os.ReadFile(f)
		b, err := os.ReadFile(filepath.Join(ref, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs from the generator's rendering (%v)", rel, err)
		}
	}
	if _, code := run(t, bin, "stimuli", "synth", "--out", out, "--set", "mixed"); code != 2 {
		t.Errorf("an unknown set exits %d, want 2", code)
	}
}
