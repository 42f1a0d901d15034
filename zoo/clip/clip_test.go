// Package clip_test checks the zoo's tiny CLIP-style model: its two ONNX encoders run in-process
// through ONNX Runtime, class embeddings come from runtimes/clip with CLIP's real tokenizer, and
// the stimuli are rendered afresh by stages/load/synth. It reproduces the numbers of clip.json:
// zero-shot accuracy on aligned stimuli, and shape bias on cue-conflict stimuli per prompt.
package clip_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/runtimes/clip"
	"github.com/vistudy/vistudy/stages/load/synth"
)

// card is the part of clip.json the test reads.
type card struct {
	Classes      []string          `json:"classes"`
	Dim          int               `json:"dim"`
	LogitScale   float32           `json:"logit_scale"`
	Prompts      map[string]string `json:"prompts"`
	TestAligned  setSpec           `json:"test_aligned"`
	TestConflict setSpec           `json:"test_conflict"`
	Metrics      map[string]struct {
		AlignedAccuracy float64 `json:"aligned_accuracy"`
		Shape           int     `json:"shape"`
		Texture         int     `json:"texture"`
		ShapeBias       float64 `json:"shape_bias"`
	} `json:"metrics"`
}

// setSpec is a generator configuration as zoo/gen writes it.
type setSpec struct {
	Set     string   `json:"set"`
	Seed    uint64   `json:"seed"`
	PerPair int      `json:"per_pair"`
	Size    int      `json:"size"`
	Classes []string `json:"classes"`
}

const (
	maxEncoderBytes = 2 << 20
	// Torch (which wrote the card) and ONNX Runtime differ in the last bits, which can flip a
	// near-tie: allow this many images to change decision.
	flipTolerance = 3
)

var ortOnce sync.Once

func TestMain(m *testing.M) {
	code := m.Run()
	if ort.IsInitialized() {
		ort.DestroyEnvironment()
	}
	os.Exit(code)
}

func readCard(t *testing.T) card {
	t.Helper()
	b, err := os.ReadFile("clip.json")
	if err != nil {
		t.Fatal(err)
	}
	var c card
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("clip.json: %v", err)
	}
	return c
}

// encoder runs one ONNX encoder in-process: input [N, ...] → output [N, dim].
type encoder struct {
	s        *ort.DynamicAdvancedSession
	in, out  string
	dim      int
	perInput int64
}

func newEncoder(t *testing.T, path, in string, dim int, perInput int64) *encoder {
	t.Helper()
	return newEncoderOutput(t, path, in, "embedding", dim, perInput)
}

// newEncoderOutput is newEncoder reading the output named out.
func newEncoderOutput(t *testing.T, path, in, out string, dim int, perInput int64) *encoder {
	t.Helper()
	lib := testenv.ORTLibrary(t)
	var initErr error
	ortOnce.Do(func() {
		ort.SetSharedLibraryPath(lib)
		initErr = ort.InitializeEnvironment()
	})
	if initErr != nil {
		t.Fatalf("initialise ONNX Runtime from %s: %v", lib, initErr)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(2); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewDynamicAdvancedSession(path, []string{in}, []string{out}, opts)
	if err != nil {
		t.Fatalf("ONNX Runtime session for %s: %v", path, err)
	}
	t.Cleanup(func() { s.Destroy() })
	return &encoder{s: s, in: in, out: out, dim: dim, perInput: perInput}
}

// run feeds one batch of n inputs.
func run[T float32 | int64](e *encoder, n int, data []T) ([][]float32, error) {
	x, err := ort.NewTensor(ort.NewShape(append([]int64{int64(n)}, shapeOf(e.perInput)...)...), data)
	if err != nil {
		return nil, err
	}
	defer x.Destroy()
	y, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(n), int64(e.dim)))
	if err != nil {
		return nil, err
	}
	defer y.Destroy()
	if err := e.s.Run([]ort.Value{x}, []ort.Value{y}); err != nil {
		return nil, err
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = append([]float32(nil), y.GetData()[i*e.dim:(i+1)*e.dim]...)
	}
	return out, nil
}

// shapeOf is the per-sample shape: [77] for tokens, [3, s, s] for an image of perInput values.
func shapeOf(perInput int64) []int64 {
	if perInput == clip.ContextLength {
		return []int64{perInput}
	}
	s := int64(math.Round(math.Sqrt(float64(perInput / 3))))
	return []int64{3, s, s}
}

// textEncoder adapts the ONNX text encoder to clip.TextEncoder.
type textEncoder struct{ e *encoder }

func (te textEncoder) Encode(_ context.Context, tokens [][]int64) ([][]float32, error) {
	flat := make([]int64, 0, len(tokens)*clip.ContextLength)
	for _, row := range tokens {
		flat = append(flat, row...)
	}
	return run(te.e, len(tokens), flat)
}

// render draws every item of spec as float32 [N, 3, H, W] RGB in [0, 1], with the items.
func render(t *testing.T, spec setSpec) ([]float32, []synth.Item) {
	t.Helper()
	kind, err := synth.ParseSetKind(spec.Set)
	if err != nil {
		t.Fatal(err)
	}
	g, err := synth.New(synth.Config{Classes: spec.Classes, Size: spec.Size, Seed: spec.Seed, PerPair: spec.PerPair, Set: kind})
	if err != nil {
		t.Fatal(err)
	}
	items := g.Items()
	hw := spec.Size * spec.Size
	x := make([]float32, 0, len(items)*3*hw)
	for _, it := range items {
		img := g.Render(it)
		for c := range 3 {
			for p := range hw {
				x = append(x, float32(img.Pix[4*p+c])/255)
			}
		}
	}
	return x, items
}

// embedImages runs the image encoder over x in batches of 100.
func embedImages(t *testing.T, e *encoder, x []float32) [][]float32 {
	t.Helper()
	per := int(e.perInput)
	var out [][]float32
	for lo := 0; lo < len(x); lo += 100 * per {
		hi := min(lo+100*per, len(x))
		embs, err := run(e, (hi-lo)/per, x[lo:hi])
		if err != nil {
			t.Fatalf("image encoder: %v", err)
		}
		out = append(out, embs...)
	}
	return out
}

// decide returns the zero-shot class of every image embedding.
func decide(t *testing.T, images, classes [][]float32, scale float32) []int {
	t.Helper()
	pred := make([]int, len(images))
	for i, im := range images {
		l, err := clip.Logits(im, classes, scale)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range l {
			if v > l[pred[i]] {
				pred[i] = k
			}
		}
	}
	return pred
}

// result is what one prompt gives.
type result struct {
	accuracy              float64
	shape, texture        int
	shapeBias             float64
	alignedN, conflictedN int
}

func TestZooCLIP(t *testing.T) {
	c := readCard(t)
	for _, f := range []string{"image.onnx", "text.onnx"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > maxEncoderBytes {
			t.Errorf("%s: %d bytes, over %d", f, st.Size(), maxEncoderBytes)
		}
	}
	if err := clip.CheckEncoders("image.onnx", "text.onnx"); err != nil {
		t.Fatalf("the zoo encoders fail the checks: %v", err)
	}
	tok, err := clip.LoadTokenizer(testenv.SharedData(t, "clip", "bpe_simple_vocab_16e6.txt.gz"))
	if err != nil {
		t.Fatal(err)
	}
	size := c.TestAligned.Size
	img := newEncoder(t, "image.onnx", "image", c.Dim, int64(3*size*size))
	txt := textEncoder{newEncoder(t, "text.onnx", "text", c.Dim, clip.ContextLength)}

	ax, aItems := render(t, c.TestAligned)
	cx, cItems := render(t, c.TestConflict)
	aEmb, cEmb := embedImages(t, img, ax), embedImages(t, img, cx)

	measure := func(templates []string) result {
		t.Helper()
		cls, err := clip.ClassEmbeddings(context.Background(), tok, txt, c.Classes, templates)
		if err != nil {
			t.Fatal(err)
		}
		r := result{alignedN: len(aItems), conflictedN: len(cItems)}
		hits := 0
		for i, p := range decide(t, aEmb, cls, c.LogitScale) {
			if p == aItems[i].Shape {
				hits++
			}
		}
		r.accuracy = float64(hits) / float64(len(aItems))
		for i, p := range decide(t, cEmb, cls, c.LogitScale) {
			switch p {
			case cItems[i].Shape:
				r.shape++
			case cItems[i].Texture:
				r.texture++
			}
		}
		r.shapeBias = float64(r.shape) / float64(max(r.shape+r.texture, 1))
		return r
	}

	chance := 1 / float64(len(c.Classes))
	got := map[string]result{}
	for _, name := range []string{"neutral", "shape", "texture"} {
		r := measure([]string{c.Prompts[name]})
		got[name] = r
		want := c.Metrics[name]
		t.Logf("%-8s %-28q aligned accuracy %.3f  conflict: shape %d, texture %d → shape bias %.3f",
			name, c.Prompts[name], r.accuracy, r.shape, r.texture, r.shapeBias)
		if d := math.Abs(r.accuracy-want.AlignedAccuracy) * float64(r.alignedN); d > flipTolerance+0.5 {
			t.Errorf("%s: aligned accuracy %.4f, card %.4f", name, r.accuracy, want.AlignedAccuracy)
		}
		if abs(r.shape-want.Shape) > flipTolerance || abs(r.texture-want.Texture) > flipTolerance {
			t.Errorf("%s: %d shape / %d texture decisions, card %d / %d", name, r.shape, r.texture, want.Shape, want.Texture)
		}
		if r.accuracy < 4*chance {
			t.Errorf("%s: aligned accuracy %.3f, not well above chance %.3f", name, r.accuracy, chance)
		}
	}
	// The prompt steers the bias: the shape-worded prompt raises it, the texture-worded one lowers it.
	n, s, x := got["neutral"].shapeBias, got["shape"].shapeBias, got["texture"].shapeBias
	if !(s > n+0.05 && x < n-0.05) {
		t.Errorf("shape bias: neutral %.3f, shape prompt %.3f, texture prompt %.3f: want shape > neutral > texture, 0.05 apart", n, s, x)
	}
	// The other template options of a study: the bare name and CLIP's 80 ImageNet templates.
	p, err := clip.LoadPrompts(testenv.SharedData(t, "clip", "imagenet_prompts.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tmpls := range map[string][]string{"bare name": {clip.BareTemplate}, "80 templates": p.Templates} {
		r := measure(tmpls)
		t.Logf("%-12s aligned accuracy %.3f  conflict: shape %d, texture %d → shape bias %.3f", name, r.accuracy, r.shape, r.texture, r.shapeBias)
		if r.accuracy < 2*chance {
			t.Errorf("%s: aligned accuracy %.3f, chance %.3f", name, r.accuracy, chance)
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
