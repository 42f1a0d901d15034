package clip

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
)

func TestTemplateSet(t *testing.T) {
	p, err := LoadPrompts(testenv.SharedData(t, "clip", "imagenet_prompts.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		first string
		n     int
		err   string
	}{
		{TemplatesImageNet80, "a bad photo of a {}.", 80, ""},
		{TemplatesSingle, "a photo of a {}.", 1, ""},
		{TemplatesBare, "{}", 1, ""},
		{"a photo of a {}.", "", 0, "not a template set"},
	}
	for _, c := range cases {
		got, err := TemplateSet(c.name, p)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("TemplateSet(%q): %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != c.n || got[0] != c.first || CheckTemplates(got) != nil {
			t.Errorf("TemplateSet(%q) = %d templates starting %q, %v", c.name, len(got), got, err)
		}
	}
	if _, err := TemplateSet(TemplatesImageNet80, nil); err == nil {
		t.Error("imagenet80 without a prompts file: no error")
	}
}

func TestZeroShotLogits(t *testing.T) {
	// Two classes at 0° and 90°, an image at 60°: cosines 0.5 and 0.866.
	z := &ZeroShot{Classes: [][]float32{{1, 0}, {0, 1}}, Scale: 10}
	l, err := z.Logits([]float32{1, float32(math.Sqrt(3))})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(l[0])-5) > 1e-5 || math.Abs(float64(l[1])-8.660254) > 1e-5 {
		t.Errorf("logits %v, want [5 8.660254]", l)
	}
	// Categories: {a: [0], b: [1, 2]} over three classes.
	z = &ZeroShot{Classes: [][]float32{{1, 0}, {0, 1}, {0, 1}}, Scale: 1,
		Categories: &Categories{Names: []string{"a", "b"}, Indices: [][]int{{0}, {1, 2}}}}
	l, err = z.Logits([]float32{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	z0 := math.E + 2
	if math.Abs(float64(l[0])-math.Log(math.E/z0)) > 1e-6 || math.Abs(float64(l[1])-math.Log(1/z0)) > 1e-6 {
		t.Errorf("category logits %v, want [%v %v]", l, math.Log(math.E/z0), math.Log(1/z0))
	}
}

func TestEmbeddingsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "emb.json")
	classes, templates := []string{"cat", "dog"}, []string{"a {}."}
	key := EmbeddingsKey("abc", classes, templates)
	if key == EmbeddingsKey("abd", classes, templates) || key == EmbeddingsKey("abc", classes, []string{"{}"}) ||
		key == EmbeddingsKey("abc", []string{"dog", "cat"}, templates) {
		t.Error("EmbeddingsKey ignores part of its input")
	}
	if _, ok, err := LoadEmbeddings(path, key); ok || err != nil {
		t.Fatalf("absent file: ok %v, %v", ok, err)
	}
	embs := [][]float32{{0.1, float32(math.Pi)}, {-1e-30, 0.7071068}}
	if err := SaveEmbeddings(path, key, classes, templates, embs); err != nil {
		t.Fatal(err)
	}
	got, ok, err := LoadEmbeddings(path, key)
	if err != nil || !ok {
		t.Fatalf("load: ok %v, %v", ok, err)
	}
	for i := range embs {
		if !slices.Equal(got[i], embs[i]) {
			t.Errorf("row %d: %v, saved %v", i, got[i], embs[i])
		}
	}
	if _, ok, _ := LoadEmbeddings(path, EmbeddingsKey("other", classes, templates)); ok {
		t.Error("embeddings of another key were accepted")
	}
	if err := SaveEmbeddings(path, key, classes, templates, embs[:1]); err == nil {
		t.Error("saving 1 embedding for 2 classes: no error")
	}
	os.WriteFile(path, []byte("{"), 0o644)
	if _, _, err := LoadEmbeddings(path, key); err == nil || !strings.Contains(err.Error(), "emb.json") {
		t.Errorf("damaged file: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".embeddings-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
