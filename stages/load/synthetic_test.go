package load

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/stages/load/synth"
)

func TestSyntheticDataset(t *testing.T) {
	cfg := Config{Name: "c", Kind: KindSynthetic, Seed: 4, Params: map[string]any{ParamSet: "conflict", ParamPerPair: 2.0, ParamSize: 32.0}}
	ds, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	samples := ds.Samples()
	if len(samples) != 8*7*2 || !ds.CueConflict() || ds.Labels().Len() != 8 {
		t.Fatalf("%d samples, %d classes; want 112 of 8", len(samples), ds.Labels().Len())
	}
	g, _ := synth.New(synth.Config{Set: synth.Conflict, PerPair: 2, Size: 32, Seed: 4})
	want := map[string][]byte{}
	for _, it := range g.Items() {
		b, _ := synth.EncodePNG(g.Render(it))
		want[it.ID] = b
	}
	for _, s := range samples {
		shape, texture, _ := strings.Cut(strings.TrimSuffix(s.ID[strings.Index(s.ID, "/")+1:], ".png"), "-")
		if !strings.HasPrefix(shape, ds.Labels().ClassName(int(s.Shape))) || !strings.HasPrefix(texture, ds.Labels().ClassName(int(s.Texture))) ||
			s.Label != s.Shape || s.Shape == s.Texture {
			t.Fatalf("sample %+v: labels do not match its name", s)
		}
	}
	// A seeded subset renumbers samples but still renders each one's own image.
	cfg.Limit = 5
	sub, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sub.Samples() {
		img, err := sub.Image(s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := synth.EncodePNG(img)
		if !bytes.Equal(b, want[s.ID]) {
			t.Errorf("%s (index %d) renders another image than the generator's", s.ID, s.Index)
		}
	}
	for key, v := range map[string]any{ParamSet: "mixed", ParamSize: -1.0, ParamClasses: "circle", "colour": true} {
		bad := Config{Name: "c", Kind: KindSynthetic, Params: map[string]any{key: v}}
		if _, err := Open(bad); err == nil {
			t.Errorf("%s = %v accepted", key, v)
		}
	}
}
