package main

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
	"github.com/vistudy/vistudy/plugins/attacks/fourier"
	"github.com/vistudy/vistudy/plugins/sdk"
)

var highpass = fourier.Perturbation{Pass: fourier.HighPass}

func TestHighPassKnownAnswers(t *testing.T) {
	// The image of the low-pass test: 0.5 + 0.2·cos(20 cycles across) + 0.2·cos(30 down). High-pass
	// zeroes the box [−r, r) with r = int((1−c)·112): the mean goes as soon as r ≥ 1, a grating of
	// f cycles goes when f < r and loses half its amplitude when f == r. Negative values clip to 0.
	g := attacktest.Grating{H: 224, W: 224, FX: 20, FY: 30, Amp: 0.2}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Batch(t, mem, []int{3, g.H, g.W}, []int32{3}, g.Pixel)
	defer batch.Release()
	for _, tc := range []struct {
		c          float64
		mean, x, y float64 // the share of the mean and of each grating that survives
	}{
		{1, 1, 1, 1},      // r = 0: nothing zeroed
		{0.995, 1, 1, 1},  // r = int(0.56) = 0: still nothing
		{0.99, 0, 1, 1},   // r = 1: the mean goes
		{0.9, 0, 1, 1},    // r = int(11.199999999999998) = 11
		{0.82, 0, 0.5, 1}, // r = 20: half of the 20-cycle grating goes
		{0.75, 0, 0, 1},   // r = 28
		{0.73, 0, 0, 0.5}, // r = 30
		{0.5, 0, 0, 0},    // r = 56: all of it
		{0, 0, 0, 0},      // r = 112: black
	} {
		out := attacktest.Apply(t, highpass, map[string]any{"c": tc.c}, batch, &sdk.Env{Mem: mem})
		got := attacktest.Images(t, out)
		out.Release()
		g.Check(t, got, tc.mean, tc.x, tc.y, fmt.Sprintf("c=%v", tc.c))
	}
}

func TestHighPassPluginProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pt, e := attacktest.Start(t, "plugins/attacks/highpass", sdk.Model{}, nil, mem)
	if e.Info.Name != "highpass" || e.Info.PrimaryParam != "c" {
		t.Errorf("info: name %q, primary %q", e.Info.Name, e.Info.PrimaryParam)
	}
	batch := attacktest.Random(t, mem, 40, []int{3, 224, 224}, 1000, 3)
	defer batch.Release()
	for _, c := range []float64{0.3, 0.9} {
		out := attacktest.SameAsInProcess(t, pt, highpass, map[string]any{"c": c}, batch, &sdk.Env{Mem: mem})
		// Without its mean, high-passed noise is zero-mean: about half the values clip to 0.
		vals := attacktest.Images(t, out)
		out.Release()
		zeros := 0
		for _, v := range vals {
			if v == 0 {
				zeros++
			}
		}
		if f := float64(zeros) / float64(len(vals)); f < 0.4 || f > 0.6 {
			t.Errorf("c=%v: %.3f of the high-passed values are 0, want about half", c, f)
		}
	}
}
