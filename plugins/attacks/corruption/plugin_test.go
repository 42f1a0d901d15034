package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func TestPluginApply(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const h, w = 40, 48
	size := 3 * h * w
	pix := randomImage(2)
	batch := attacktest.Batch(t, mem, []int{3, h, w}, []int32{5, 7, -1, 2},
		func(row, j int) float32 { return pix(j/(h*w)+row, (j/w)%h, j%w) })
	defer batch.Release()
	in := attacktest.Images(t, batch)
	ids, _ := arrowio.StringColumn(batch, arrowio.ColSampleID)
	for _, name := range []string{"gaussian_noise", "frost", "pixelate"} {
		raw := map[string]any{"name": name, "severity": 3, "frost_dir": frostDir(t)}
		out := attacktest.Apply(t, corruption{}, raw, batch, &sdk.Env{Seed: 11, Mem: mem})
		got := attacktest.Images(t, out)
		for row := range 4 { // each row is Corrupt of that row with its own sample id
			want := make([]float32, size)
			if err := Corrupt(want, in[row*size:(row+1)*size], h, w, name, 3, 11, ids[row], frostDir(t)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got[row*size:(row+1)*size], want) {
				t.Errorf("%s: row %d differs from Corrupt of its image", name, row)
			}
		}
		names, err := arrowio.StringColumn(out, ColCorruption)
		if err != nil || !slices.Equal(names, []string{name, name, name, name}) {
			t.Errorf("%s: corruption column %v (%v)", name, names, err)
		}
		labels, err := arrowio.Int32Column(out, arrowio.ColLabel)
		if err != nil || !slices.Equal(labels, []int32{5, 7, -1, 2}) {
			t.Errorf("%s: labels %v (%v)", name, labels, err)
		}
		out.Release()
	}
}

// TestPluginSeedIsPerSample: a sample's pixels do not depend on which batch or row it is in.
func TestPluginSeedIsPerSample(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	big := attacktest.Random(t, mem, 6, []int{3, 24, 24}, 10, 3)
	defer big.Release()
	small := big.NewSlice(2, 5)
	defer small.Release()
	raw := map[string]any{"name": "shot_noise", "severity": 2}
	env := &sdk.Env{Seed: 4, Mem: mem}
	a := attacktest.Apply(t, corruption{}, raw, big, env)
	defer a.Release()
	b := attacktest.Apply(t, corruption{}, raw, small, env)
	defer b.Release()
	const size = 3 * 24 * 24
	if !slices.Equal(attacktest.Images(t, a)[2*size:5*size], attacktest.Images(t, b)) {
		t.Error("rows 2–4 changed when applied as their own batch")
	}
}

func TestPluginRejects(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Batch(t, mem, []int{3, 8, 8}, []int32{0}, func(int, int) float32 { return 0.5 })
	defer batch.Release()
	grey := attacktest.Batch(t, mem, []int{1, 8, 8}, []int32{0}, func(int, int) float32 { return 0.5 })
	defer grey.Release()
	for _, tc := range []struct {
		raw   map[string]any
		grey  bool
		wants string // a word the error must carry ("" for any error)
	}{
		{raw: map[string]any{"severity": 1}},
		{raw: map[string]any{"name": "fog"}},
		{raw: map[string]any{"name": "blur", "severity": 1}},
		{raw: map[string]any{"name": "fog", "severity": 0}},
		{raw: map[string]any{"name": "fog", "severity": 6}},
		{raw: map[string]any{"name": "fog", "severity": 2.5}},
		{raw: map[string]any{"name": "all", "severity": 1}, wants: "sweep"},
		{raw: map[string]any{"name": "frost", "severity": 1}, wants: paramFrostDir},
		{raw: map[string]any{"name": "frost", "severity": 1, "frost_dir": t.TempDir()}, wants: paramFrostDir},
		{raw: map[string]any{"name": "fog", "severity": 1}, grey: true, wants: "channels"},
	} {
		b := batch
		if tc.grey {
			b = grey
		}
		out, err := attacktest.TryApply(corruption{}, tc.raw, b, &sdk.Env{Mem: mem})
		if err == nil {
			out.Release()
			t.Errorf("parameters %v were accepted", tc.raw)
			continue
		}
		if !strings.Contains(err.Error(), tc.wants) {
			t.Errorf("parameters %v: error %q does not mention %q", tc.raw, err, tc.wants)
		}
	}
}

func TestPluginProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pt, e := attacktest.Start(t, "plugins/attacks/corruption", sdk.Model{}, nil, mem)
	if e.Info.PrimaryParam != paramSeverity || e.Info.NeedsModel {
		t.Errorf("info: primary %q, needs model %v", e.Info.PrimaryParam, e.Info.NeedsModel)
	}
	batch := attacktest.Random(t, mem, 8, []int{3, 64, 64}, 1000, 1)
	defer batch.Release()
	for _, name := range []string{"glass_blur", "frost", "jpeg_compression"} {
		raw := map[string]any{"name": name, "severity": 4, "frost_dir": frostDir(t)}
		out := attacktest.SameAsInProcess(t, pt, corruption{}, raw, batch, &sdk.Env{Seed: 7, Mem: mem})
		out.Release()
	}
}
