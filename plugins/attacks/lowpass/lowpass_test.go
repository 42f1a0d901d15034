package main

import (
	"fmt"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
	"github.com/vistudy/vistudy/plugins/attacks/fourier"
	"github.com/vistudy/vistudy/plugins/sdk"
)

var lowpass = fourier.Perturbation{Pass: fourier.LowPass}

func TestLowPassKnownAnswers(t *testing.T) {
	// A 224×224 image of 0.5 + 0.2·cos(20 cycles across) + 0.2·cos(30 cycles down). The box keeps
	// offsets [−r, r) with r = int(c·112): a grating of f cycles survives whole when f < r, at half
	// amplitude when f == r (only −f is in the box; the real part halves it), not at all beyond.
	g := attacktest.Grating{H: 224, W: 224, FX: 20, FY: 30, Amp: 0.2}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Batch(t, mem, []int{3, g.H, g.W}, []int32{1, 2}, g.Pixel)
	defer batch.Release()
	for _, tc := range []struct {
		c          float64
		mean, x, y float64 // the share of the mean and of each grating that survives
	}{
		{0, 0, 0, 0},      // empty box: black
		{0.005, 0, 0, 0},  // r = int(0.56) = 0: still empty
		{0.01, 1, 0, 0},   // r = 1: the mean only
		{0.1, 1, 0, 0},    // r = 11
		{0.18, 1, 0.5, 0}, // r = 20: half of the 20-cycle grating
		{0.2, 1, 1, 0},    // r = 22
		{0.27, 1, 1, 0.5}, // r = 30: half of the 30-cycle grating
		{0.5, 1, 1, 1},    // r = 56
		{1, 1, 1, 1},      // the identity
	} {
		out := attacktest.Apply(t, lowpass, map[string]any{"c": tc.c}, batch, &sdk.Env{Mem: mem})
		got := attacktest.Images(t, out)
		out.Release()
		g.Check(t, got, tc.mean, tc.x, tc.y, fmt.Sprintf("c=%v", tc.c))
	}
}

func TestLowPassPluginProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pt, e := attacktest.Start(t, "plugins/attacks/lowpass", sdk.Model{}, nil, mem)
	if e.Info.Name != "lowpass" || e.Info.PrimaryParam != "c" {
		t.Errorf("info: name %q, primary %q", e.Info.Name, e.Info.PrimaryParam)
	}
	// 40 images of 3×224×224 float32, about 24 MiB each way.
	batch := attacktest.Random(t, mem, 40, []int{3, 224, 224}, 1000, 2)
	defer batch.Release()
	if out, err := pt.Apply(t.Context(), `{"c": 1.2}`, batch, 1); err == nil {
		out.Release()
		t.Error("the plugin accepted c = 1.2")
	}
	// White noise keeps the mean of each channel and the share of its variance the symmetrised
	// mask passes: r = int(c·112), (2r−1)² full frequencies plus 2·(2r)² − 2·(2r−1)² on the box's
	// one-sided edge at weight ½ (power ¼), out of 224². Uniform noise has SD 1/√12.
	for _, tc := range []struct{ c, sd float64 }{
		{0.1, math.Sqrt((21*21 + 0.25*(2*22*22-2*21*21)) / (224 * 224) / 12)},       // 0.0277
		{0.5, math.Sqrt((111*111 + 0.25*(2*112*112-2*111*111)) / (224 * 224) / 12)}, // 0.1437
	} {
		out := attacktest.SameAsInProcess(t, pt, lowpass, map[string]any{"c": tc.c}, batch, &sdk.Env{Mem: mem})
		in, got := attacktest.Images(t, batch), attacktest.Images(t, out)
		out.Release()
		const n = 224 * 224
		var sq float64
		for ch := 0; ch < len(in)/n; ch++ {
			var mi, mo float64
			for i := ch * n; i < (ch+1)*n; i++ {
				mi += float64(in[i])
				mo += float64(got[i])
			}
			if math.Abs(mi-mo)/n > 1e-3 {
				t.Fatalf("c=%v: channel %d mean %v became %v", tc.c, ch, mi/n, mo/n)
			}
			for i := ch * n; i < (ch+1)*n; i++ {
				sq += (float64(got[i]) - mo/n) * (float64(got[i]) - mo/n)
			}
		}
		if sd := math.Sqrt(sq / float64(len(got))); math.Abs(sd/tc.sd-1) > 0.03 {
			t.Errorf("c=%v: low-passed noise has SD %.4f, want %.4f", tc.c, sd, tc.sd)
		}
	}
}
