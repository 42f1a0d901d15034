package load

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writePNG writes a small solid image at root/rel.
func writePNG(t *testing.T, root, rel string, v uint8) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	im := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for i := range im.Pix {
		im.Pix[i] = v
		if i%4 == 3 {
			im.Pix[i] = 255
		}
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, im); err != nil {
		t.Fatal(err)
	}
}

// imagenetCTree lays out fog/{1,3} and snow/2 with classes n01440764 (0, tench) and n01443537 (1, goldfish).
func imagenetCTree(t *testing.T) string {
	dir := t.TempDir()
	for _, rel := range []string{
		"fog/1/n01440764/a.png", "fog/1/n01443537/b.png", "fog/3/n01440764/a.png",
		"snow/2/n01443537/b.png", "snow/2/n01443537/c.png",
	} {
		writePNG(t, dir, rel, 100)
	}
	if err := os.WriteFile(filepath.Join(dir, "fog", "1", "n01440764", "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestImageNetC(t *testing.T) {
	dir := imagenetCTree(t)
	type want struct {
		id    string
		label int32
		name  string
		c     string
		s     int
	}
	all := []want{
		{"fog/1/n01440764/a.png", 0, "tench, Tinca tinca", "fog", 1}, {"fog/1/n01443537/b.png", 1, "goldfish, Carassius auratus", "fog", 1},
		{"fog/3/n01440764/a.png", 0, "tench, Tinca tinca", "fog", 3},
		{"snow/2/n01443537/b.png", 1, "goldfish, Carassius auratus", "snow", 2}, {"snow/2/n01443537/c.png", 1, "goldfish, Carassius auratus", "snow", 2},
	}
	cases := []struct {
		name   string
		params map[string]any
		want   []want
	}{
		{"everything", nil, all},
		{"one corruption", map[string]any{ParamCorruptions: "snow"}, all[3:]},
		{"severities", map[string]any{ParamSeverities: []any{1.0, 2.0}}, []want{all[0], all[1], all[3], all[4]}},
		{"both", map[string]any{ParamCorruptions: []any{"fog"}, ParamSeverities: 3.0}, all[2:3]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds, err := Open(Config{Name: "c", Kind: KindImageNetC, Path: ".", BaseDir: dir, Params: c.params})
			if err != nil {
				t.Fatal(err)
			}
			got := ds.Samples()
			if len(got) != len(c.want) {
				t.Fatalf("%d samples, want %d: %v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				s := got[i]
				if s.ID != w.id || s.Label != w.label || s.LabelName != w.name || s.Index != i || s.Path != filepath.Join(dir, w.id) {
					t.Errorf("sample %d: %+v, want %+v", i, s, w)
				}
				corruption, sev, err := ImageNetCAttrs(s.ID)
				if err != nil || corruption != w.c || sev != w.s {
					t.Errorf("sample %d: attributes %q %d (%v), want %q %d", i, corruption, sev, err, w.c, w.s)
				}
			}
			if ds.Labels().Len() != 1000 || ds.Kind() != KindImageNetC {
				t.Errorf("label space of %d classes, kind %q", ds.Labels().Len(), ds.Kind())
			}
			im, err := ds.Image(got[0])
			if err != nil || im.Bounds().Dx() != 4 || color.GrayModel.Convert(im.At(0, 0)).(color.Gray).Y != 100 {
				t.Errorf("image of %s: %v, %v", got[0].ID, im, err)
			}
		})
	}
}

func TestImageNetCRejects(t *testing.T) {
	mk := func(rels ...string) string {
		dir := t.TempDir()
		for _, r := range rels {
			writePNG(t, dir, r, 1)
		}
		return dir
	}
	good := mk("fog/1/n01440764/a.png")
	cases := []struct {
		name      string
		dir       string
		params    map[string]any
		fragments []string
	}{
		{"severity folder out of range", mk("fog/6/n01440764/a.png"), nil, []string{`"6"`, "severity"}},
		{"severity folder not a number", mk("fog/high/n01440764/a.png"), nil, []string{`"high"`}},
		{"zero-padded severity", mk("fog/01/n01440764/a.png"), nil, []string{`"01"`}},
		{"unknown class", mk("fog/1/n99999999/a.png"), nil, []string{"n99999999"}},
		{"images at the top", mk("a.png", "fog/1/n01440764/a.png"), nil, []string{"a.png", "<corruption>/<severity>/<wnid>"}},
		{"no images", mk(), nil, []string{"no images"}},
		{"unknown corruption", good, map[string]any{ParamCorruptions: []any{"fog", "frost"}}, []string{`"frost"`, "fog"}},
		{"missing severity", good, map[string]any{ParamSeverities: []any{1.0, 4.0}}, []string{"severity 4"}},
		{"severity not an integer", good, map[string]any{ParamSeverities: 2.5}, []string{"2.5"}},
		{"corruptions not strings", good, map[string]any{ParamCorruptions: []any{3.0}}, []string{ParamCorruptions}},
		{"unknown parameter", good, map[string]any{"level": 3.0}, []string{"level"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(Config{Name: "c", Kind: KindImageNetC, Path: ".", BaseDir: c.dir, Params: c.params})
			if err == nil {
				t.Fatal("opened")
			}
			for _, f := range c.fragments {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not mention %q", err, f)
				}
			}
		})
	}
	for _, id := range []string{"fog/1/a.png", "fog/0/n01440764/a.png", "fog/x/n01440764/a.png"} {
		if _, _, err := ImageNetCAttrs(id); err == nil {
			t.Errorf("ImageNetCAttrs(%q) accepted it", id)
		}
	}
	if !slices.Contains(Kinds(), KindImageNetC) {
		t.Errorf("kinds %v lack %s", Kinds(), KindImageNetC)
	}
}
