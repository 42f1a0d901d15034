package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
	"github.com/vistudy/vistudy/plugins/attacks/imagemap"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func TestGreyscaleKnownAnswers(t *testing.T) {
	// PIL's convert("L") gives 76, 150, 29 for pure red, green, blue and keeps greys.
	for _, tc := range []struct {
		name     string
		rgb      [3]float32
		quantize bool
		want     float64
	}{
		{"red through PIL", [3]float32{1, 0, 0}, true, 76.0 / 255},
		{"green through PIL", [3]float32{0, 1, 0}, true, 150.0 / 255},
		{"blue through PIL", [3]float32{0, 0, 1}, true, 29.0 / 255},
		{"grey 51 stays", [3]float32{0.2, 0.2, 0.2}, true, 51.0 / 255},
		{"between 8-bit levels rounds", [3]float32{0.5, 0.5, 0.5}, true, 128.0 / 255},
		{"red in float", [3]float32{1, 0, 0}, false, 0.299},
		{"mixed in float", [3]float32{0.5, 0.25, 1}, false, 0.299*0.5 + 0.587*0.25 + 0.114},
	} {
		g := greyscale([]float32{tc.rgb[0], tc.rgb[1], tc.rgb[2]}, imagemap.Shape{C: 3, H: 1, W: 1}, tc.quantize)
		if math.Abs(g.v[0]-tc.want) > 1e-7 {
			t.Errorf("%s: %v, want %v", tc.name, g.v[0], tc.want)
		}
	}
}

func TestFitRangeKnownAnswers(t *testing.T) {
	const x = 0.449
	for _, tc := range []struct {
		name               string
		grey, noise, eps   float64
		want               float64 // NaN: redrawn, anywhere in [0,1]
		shifted, resampled int32
	}{
		{"inside stays", x, 0.3, 0.1, x + 0.3, 0, 0},
		{"exactly 1 stays", 0.5, 0.5, 0.1, 1, 0, 0},
		{"above lands on 1 − ε", x, 0.7, 0.1, 0.9, 1, 0},
		{"below lands on ε", x, -0.6, 0.1, 0.1, 1, 0},
		{"ε = 0 lands on 1", x, 0.7, 0, 1, 1, 0},
		{"above, the move would leave [0,1]: redrawn", x, 1.5, 0.1, math.NaN(), 0, 1},
		{"below, the move would leave [0,1]: redrawn", x, -1.2, 0.1, math.NaN(), 0, 1},
	} {
		img, noise := newPlane(1, 1), newPlane(1, 1)
		img.v[0], noise.v[0] = tc.grey, tc.noise
		shifted, resampled, err := fitRange(img, noise, tc.eps, 0.04, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := img.v[0]
		if shifted != tc.shifted || resampled != tc.resampled {
			t.Errorf("%s: shifted %d resampled %d, want %d %d", tc.name, shifted, resampled, tc.shifted, tc.resampled)
		}
		if math.IsNaN(tc.want) {
			// The pixel keeps its grey; the new noise has SD 0.04.
			if got < 0 || got > 1 || math.Abs(got-tc.grey) > 0.3 {
				t.Errorf("%s: %v", tc.name, got)
			}
			continue
		}
		if math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// A grey outside [0,1] with almost no noise can never be brought back: an error, not a hang.
	img, noise := newPlane(1, 1), newPlane(1, 1)
	img.v[0], noise.v[0] = 1.5, 1
	if _, _, err := fitRange(img, noise, 0.1, 1e-9, rand.New(rand.NewPCG(1, 2))); err == nil {
		t.Error("a pixel that cannot fit was accepted")
	}
}

func column[T arrow.Array](t *testing.T, rec arrow.RecordBatch, name string) T {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		t.Fatalf("no column %q in %s", name, rec.Schema())
	}
	return rec.Column(idx[0]).(T)
}

func TestCleanImageKnownAnswer(t *testing.T) {
	// Two grey pixels 0.2 and 0.6 (8-bit 51 and 153): mean 0.4, so 0.449 ∓ 0.2·0.2.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	grey := []float32{0.2, 0.6}
	batch := attacktest.Batch(t, mem, []int{3, 1, 2}, []int32{5}, func(_, j int) float32 { return grey[j%2] })
	defer batch.Release()
	for _, raw := range []map[string]any{{"sd": 0.08, "band": -1}, {"sd": 0, "band": 3}} {
		out := attacktest.Apply(t, criticalband{}, raw, batch, &sdk.Env{Seed: 1, Mem: mem})
		got := attacktest.Images(t, out)
		for j, v := range got {
			want := []float64{0.409, 0.489}[j%2]
			if math.Abs(float64(v)-want) > 1e-6 {
				t.Errorf("%v: value %d = %v, want %v", raw, j, v, want)
			}
		}
		if r := column[*array.Float64](t, out, colNoiseRMS).Value(0); r != 0 {
			t.Errorf("%v: noise RMS %v for a clean image", raw, r)
		}
		out.Release()
	}
}

func TestCriticalBandOutput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Random(t, mem, 6, []int{3, 224, 224}, 10, 5)
	defer batch.Release()
	for _, tc := range []struct {
		raw   map[string]any
		moves bool // the noise is strong enough that pixels must move or be redrawn
	}{
		{map[string]any{"sd": 0.16, "band": 0}, false}, {map[string]any{"sd": 0.16, "band": 3}, false},
		{map[string]any{"sd": 0.16, "band": 6}, false}, {map[string]any{"sd": 0.02, "band": 4}, false},
		{map[string]any{"sd": 0.6, "band": 6, "epsilon": 0.05}, true},
	} {
		raw := tc.raw
		a := attacktest.Apply(t, criticalband{}, raw, batch, &sdk.Env{Seed: 11, Mem: mem})
		b := attacktest.Apply(t, criticalband{}, raw, batch, &sdk.Env{Seed: 11, Mem: mem})
		c := attacktest.Apply(t, criticalband{}, raw, batch, &sdk.Env{Seed: 12, Mem: mem})
		if !array.RecordEqual(a, b) {
			t.Errorf("%v: two runs with one seed differ", raw)
		}
		if array.RecordEqual(a, c) {
			t.Errorf("%v: seeds 11 and 12 gave the same images", raw)
		}
		vals := attacktest.Images(t, a)
		const n = 224 * 224
		eps := float32(0.1)
		if e, ok := raw["epsilon"]; ok {
			eps = float32(e.(float64))
		}
		shifted := column[*array.Int32](t, a, colShifted)
		rmsCol := column[*array.Float64](t, a, colNoiseRMS)
		for img := 0; img < int(a.NumRows()); img++ {
			onEdge := 0
			for i := 0; i < n; i++ {
				v := vals[img*3*n+i]
				if v < 0 || v > 1 {
					t.Fatalf("%v: image %d value %d = %v outside [0,1]", raw, img, i, v)
				}
				if vals[img*3*n+n+i] != v || vals[img*3*n+2*n+i] != v {
					t.Fatalf("%v: image %d pixel %d differs between channels", raw, img, i)
				}
				if v == eps || v == 1-eps {
					onEdge++
				}
			}
			// Every shifted pixel lands exactly on ε or 1 − ε.
			if onEdge < int(shifted.Value(img)) {
				t.Errorf("%v: image %d has %d shifted pixels but %d values on ε or 1 − ε", raw, img, shifted.Value(img), onEdge)
			}
			if rmsCol.Value(img) <= 0 {
				t.Errorf("%v: image %d noise RMS %v", raw, img, rmsCol.Value(img))
			}
		}
		t.Logf("%v: image 0 noise RMS %.4f, shifted %d, redrawn %d", raw, rmsCol.Value(0), shifted.Value(0), column[*array.Int32](t, a, colResampled).Value(0))
		if resampled := column[*array.Int32](t, a, colResampled); tc.moves && (shifted.Value(0) == 0 || resampled.Value(0) == 0) {
			t.Errorf("%v: strong noise shifted %d and redrew %d pixels", raw, shifted.Value(0), resampled.Value(0))
		}
		a.Release()
		b.Release()
		c.Release()
	}
}

func TestCriticalBandRejectsBadInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Batch(t, mem, []int{3, 224, 224}, []int32{0}, func(int, int) float32 { return 0.5 })
	defer batch.Release()
	for _, raw := range []map[string]any{
		{"sd": 0.04}, {"band": 2}, {"sd": -0.1, "band": 2}, {"sd": 0.04, "band": -2}, {"sd": 0.04, "band": 2.5},
		{"sd": 0.04, "band": 7}, // a 224×224 pyramid has bands 0..6
	} {
		if out, err := attacktest.TryApply(criticalband{}, raw, batch, &sdk.Env{Mem: mem}); err == nil {
			out.Release()
			t.Errorf("parameters %v were accepted", raw)
		}
	}
	four := attacktest.Batch(t, mem, []int{4, 8, 8}, []int32{0}, func(int, int) float32 { return 0.5 })
	defer four.Release()
	if out, err := attacktest.TryApply(criticalband{}, map[string]any{"sd": 0.04, "band": 0}, four, &sdk.Env{Mem: mem}); err == nil {
		out.Release()
		t.Error("4-channel images were accepted")
	}
}

func TestCriticalBandPluginProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pt, e := attacktest.Start(t, "plugins/attacks/criticalband", sdk.Model{}, nil, mem)
	if e.Info.PrimaryParam != paramSD {
		t.Errorf("primary parameter %q", e.Info.PrimaryParam)
	}
	// 40 images of 3×224×224 float32, about 24 MiB each way.
	batch := attacktest.Random(t, mem, 40, []int{3, 224, 224}, 1000, 6)
	defer batch.Release()
	for _, raw := range []map[string]any{{"sd": 0.08, "band": 3}, {"sd": 0.04, "band": -1}} {
		out := attacktest.SameAsInProcess(t, pt, criticalband{}, raw, batch, &sdk.Env{Seed: 21, Mem: mem})
		if _, err := arrowio.TensorColumn(out, arrowio.ColImage); err != nil || out.NumCols() != batch.NumCols()+3 {
			t.Errorf("%v: result schema %s (%v)", raw, out.Schema(), err)
		}
		out.Release()
	}
}
