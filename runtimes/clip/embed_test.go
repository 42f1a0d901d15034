package clip

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
)

// tableEncoder embeds a prompt by looking its token ids up in a table built from texts, so a test
// chooses the embedding of every prompt it sends.
type tableEncoder struct {
	byTokens map[string][]float32
	calls    int
}

func newTableEncoder(t *testing.T, tok *Tokenizer, embs map[string][]float32) *tableEncoder {
	e := &tableEncoder{byTokens: map[string][]float32{}}
	for text, v := range embs {
		e.byTokens[key(tok.Tokenize(text))] = v
	}
	return e
}

func key(ids []int64) string {
	var b strings.Builder
	for _, v := range ids {
		b.WriteString(string(rune(v)))
	}
	return b.String()
}

func (e *tableEncoder) Encode(_ context.Context, tokens [][]int64) ([][]float32, error) {
	e.calls++
	out := make([][]float32, len(tokens))
	for i, ids := range tokens {
		if len(ids) != ContextLength {
			return nil, errors.New("wrong context length")
		}
		v, ok := e.byTokens[key(ids)]
		if !ok {
			return nil, errors.New("prompt not in the table")
		}
		out[i] = v
	}
	return out, nil
}

// TestClassEmbeddingsTwoClasses checks the math on two classes and two templates, by hand:
// cat:  "a {}." → (3, 4) → (0.6, 0.8);  "the {}!" → (0, 2) → (0, 1)
//
//	mean (0.3, 0.9), norm √0.9 → (0.316228, 0.948683)
//
// dog:  "a {}." → (1, 0) → (1, 0);      "the {}!" → (1, 1) → (0.707107, 0.707107)
//
//	mean (0.853553, 0.353553), norm 0.923880 → (0.923880, 0.382683)
//
// image (2, 1) → (0.894427, 0.447214); logits at scale 100:
//
//	cat 100·(0.894427·0.316228 + 0.447214·0.948683) = 70.7107
//	dog 100·(0.894427·0.923880 + 0.447214·0.382683) = 99.7484
func TestClassEmbeddingsTwoClasses(t *testing.T) {
	tok := loadTokenizer(t)
	enc := newTableEncoder(t, tok, map[string][]float32{
		"a cat.": {3, 4}, "the cat!": {0, 2}, "a dog.": {1, 0}, "the dog!": {1, 1},
	})
	embs, err := ClassEmbeddings(context.Background(), tok, enc, []string{"cat", "dog"}, []string{"a {}.", "the {}!"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{0.316228, 0.948683}, {0.923880, 0.382683}}
	for i := range want {
		for j := range want[i] {
			if math.Abs(float64(embs[i][j]-want[i][j])) > 1e-5 {
				t.Errorf("class %d: embedding %v, want %v", i, embs[i], want[i])
			}
		}
	}
	logits, err := Logits([]float32{2, 1}, embs, DefaultLogitScale)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(logits[0])-70.7107) > 1e-3 || math.Abs(float64(logits[1])-99.7484) > 1e-3 {
		t.Errorf("logits %v, want [70.7107 99.7484]", logits)
	}
	// The bare name: the class embedding is the normalised embedding of the name alone.
	enc = newTableEncoder(t, tok, map[string][]float32{"cat": {0, -5}, "dog": {2, 0}})
	embs, err = ClassEmbeddings(context.Background(), tok, enc, []string{"cat", "dog"}, []string{BareTemplate})
	if err != nil {
		t.Fatal(err)
	}
	if embs[0][0] != 0 || embs[0][1] != -1 || embs[1][0] != 1 || embs[1][1] != 0 {
		t.Errorf("bare-name embeddings %v", embs)
	}
}

func TestClassEmbeddingsBatches(t *testing.T) {
	tok := loadTokenizer(t)
	p, err := LoadPrompts(testenv.SharedData(t, "clip", "imagenet_prompts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Classes) != 1000 || len(p.Templates) != 80 {
		t.Fatalf("prompts: %d classes, %d templates", len(p.Classes), len(p.Templates))
	}
	// Each prompt embeds as e_k (k = its template), scaled by its class index + 1: every class
	// embedding is then (1,…,1)/√80 whatever the scale, over 4 classes × 80 templates = 2 batches.
	table := map[string][]float32{}
	classes := p.Classes[:4]
	for c, name := range classes {
		for k, tmpl := range p.Templates {
			v := make([]float32, len(p.Templates))
			v[k] = float32(c + 1)
			table[Fill(tmpl, name)] = v
		}
	}
	enc := newTableEncoder(t, tok, table)
	embs, err := ClassEmbeddings(context.Background(), tok, enc, classes, p.Templates)
	if err != nil {
		t.Fatal(err)
	}
	if enc.calls != 2 {
		t.Errorf("%d encoder calls for 320 prompts, want 2", enc.calls)
	}
	for c, e := range embs {
		for _, v := range e {
			if math.Abs(float64(v)-1/math.Sqrt(80)) > 1e-6 {
				t.Fatalf("class %d: %v", c, e)
			}
		}
	}
}

func TestClassEmbeddingsErrors(t *testing.T) {
	tok := loadTokenizer(t)
	enc := newTableEncoder(t, tok, map[string][]float32{"a cat.": {0, 0}, "a dog.": {1, 0}, "a fox.": {1, 0, 0}})
	ctx := context.Background()
	cases := []struct {
		name               string
		classes, templates []string
		want               string
	}{
		{"no placeholder", []string{"dog"}, []string{"a {}.", "a photo"}, `templates[1] "a photo"`},
		{"two placeholders", []string{"dog"}, []string{"a {} {}."}, "exactly one {}"},
		{"stray brace", []string{"dog"}, []string{"a {0}."}, "exactly one {}"},
		{"no templates", []string{"dog"}, nil, "none given"},
		{"no classes", nil, []string{"a {}."}, "no class names"},
		{"zero embedding", []string{"cat"}, []string{"a {}."}, `prompt "a cat."`},
		{"sizes differ", []string{"dog", "fox"}, []string{"a {}."}, "embedding size 3, earlier 2"},
		{"unknown prompt", []string{"owl"}, []string{"a {}."}, "encode prompts 0–0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ClassEmbeddings(ctx, tok, enc, c.classes, c.templates)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to say %q", err, c.want)
			}
		})
	}
	if _, err := Logits([]float32{1, 0}, [][]float32{{1, 0, 0}}, 1); err == nil {
		t.Error("Logits with mismatched sizes: no error")
	}
	if _, err := Logits([]float32{0, 0}, [][]float32{{1, 0}}, 1); !errors.Is(err, ErrZeroVector) {
		t.Errorf("Logits of a zero image embedding: %v", err)
	}
}

func TestCategories(t *testing.T) {
	c, err := LoadCategories(testenv.SharedData(t, "imagenet16.json"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Names) != 16 || c.Names[0] != "airplane" || c.Names[15] != "truck" {
		t.Fatalf("categories %v", c.Names)
	}
	n := 0
	for _, idx := range c.Indices {
		n += len(idx)
	}
	if n != 207 {
		t.Errorf("%d indices, want 207", n)
	}
	// All mass on ImageNet class 404 (airplane's only class) and the rest uniform: airplane's
	// probability is p404, bear's the mean over 4 uniform classes.
	fine := make([]float32, 1000)
	fine[404] = 10
	got, err := c.Aggregate(fine)
	if err != nil {
		t.Fatal(err)
	}
	z := math.Exp(10) + 999
	if math.Abs(float64(got[0])-math.Log(math.Exp(10)/z)) > 1e-5 || math.Abs(float64(got[1])-math.Log(1/z)) > 1e-5 {
		t.Errorf("aggregated %v: airplane want %v, bear %v", got[:2], math.Log(math.Exp(10)/z), math.Log(1/z))
	}
	if _, err := c.Aggregate(fine[:100]); err == nil {
		t.Error("Aggregate over 100 logits: no error")
	}
	if _, err := LoadCategories(testenv.SharedData(t, "imagenet16.json"), 100); err == nil || !strings.Contains(err.Error(), "outside [0, 100)") {
		t.Errorf("LoadCategories with 100 classes: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"categories": {}}`), 0o644)
	if _, err := LoadCategories(bad, 1000); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("empty categories: %v", err)
	}
}
