package main

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// pixels are hand-made values; each test image is these values in every channel.
var pixels = []float32{0, 0.1, 0.25, 0.5, 0.75, 0.9, 1}

func TestSolarizeKnownAnswers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Batch(t, mem, []int{3, 1, len(pixels)}, []int32{4, -1},
		func(_, j int) float32 { return pixels[j%len(pixels)] })
	defer batch.Release()
	for _, tc := range []struct {
		name      string
		threshold float64
		want      []float32 // per pixel, computed by hand
	}{
		{"t=0 inverts every pixel", 0, []float32{1, 0.9, 0.75, 0.5, 0.25, 1 - float32(0.9), 0}},
		{"t=1 keeps every pixel but pure white", 1, []float32{0, 0.1, 0.25, 0.5, 0.75, 0.9, 0}},
		{"x == t is inverted", 0.5, []float32{0, 0.1, 0.25, 0.5, 0.25, 1 - float32(0.9), 0}},
		{"x == t is inverted (0.25)", 0.25, []float32{0, 0.1, 0.75, 0.5, 0.25, 1 - float32(0.9), 0}},
		{"threshold between pixels", 0.8, []float32{0, 0.1, 0.25, 0.5, 0.75, 1 - float32(0.9), 0}},
	} {
		out := attacktest.Apply(t, solarize{}, map[string]any{"threshold": tc.threshold}, batch, &sdk.Env{Mem: mem})
		got := attacktest.Images(t, out)
		for j, v := range got {
			if want := tc.want[j%len(pixels)]; v != want {
				t.Errorf("%s: value %d (pixel %v) = %v, want %v", tc.name, j, pixels[j%len(pixels)], v, want)
			}
		}
		if out.NumCols() != batch.NumCols() || out.Schema().Field(0).Name != arrowio.ColSampleID {
			t.Errorf("%s: columns changed: %s", tc.name, out.Schema())
		}
		labels, err := arrowio.Int32Column(out, arrowio.ColLabel)
		if err != nil || labels[0] != 4 || labels[1] != -1 {
			t.Errorf("%s: labels %v (%v), want [4 -1]", tc.name, labels, err)
		}
		out.Release()
	}
}

func TestSolarizeRejectsBadParameters(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Batch(t, mem, []int{3, 2, 2}, []int32{0}, func(int, int) float32 { return 0.5 })
	defer batch.Release()
	for _, raw := range []map[string]any{{}, {"threshold": -0.1}, {"threshold": 1.5}, {"threshold": "high"},
		{"threshold": 0.5, "level": 2}} {
		if out, err := attacktest.TryApply(solarize{}, raw, batch, &sdk.Env{Mem: mem}); err == nil {
			out.Release()
			t.Errorf("parameters %v were accepted", raw)
		}
	}
}

func TestSolarizePluginProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pt, e := attacktest.Start(t, "plugins/attacks/solarize", sdk.Model{}, nil, mem)
	if e.Info.PrimaryParam != "threshold" || e.Info.NeedsModel {
		t.Errorf("info: primary %q, needs model %v", e.Info.PrimaryParam, e.Info.NeedsModel)
	}
	// 40 images of 3×224×224 float32, about 24 MiB each way: far over gRPC's 4 MiB default.
	batch := attacktest.Random(t, mem, 40, []int{3, 224, 224}, 1000, 1)
	defer batch.Release()
	if n := attacktest.IPCSize(t, batch, mem); n < 20<<20 {
		t.Fatalf("the large batch is only %d bytes", n)
	}
	for _, threshold := range []float64{0, 0.3, 1} {
		raw := map[string]any{"threshold": threshold}
		out := attacktest.SameAsInProcess(t, pt, solarize{}, raw, batch, &sdk.Env{Seed: 7, Mem: mem})
		in, got := attacktest.Images(t, batch), attacktest.Images(t, out)
		tf := float32(threshold)
		for i, x := range in {
			want := x
			if x >= tf {
				want = 1 - x
			}
			if got[i] != want {
				t.Fatalf("t=%v: value %d = %v, want solarize(%v) = %v", threshold, i, got[i], x, want)
			}
		}
		out.Release()
	}
}
