package onnx

import (
	"math"
	"math/rand/v2"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// encoderGraph is a tiny image encoder, x [N, 3, 4, 4] → Flatten → Gemm → "emb" [N, 6].
func encoderGraph(t *testing.T) *testGraph {
	g := newTestGraph(t, 13, 2, 3, 4, 4)
	f := g.node("Flatten", []string{"x"}, "flat", intAttr("axis", 1))
	g.output = g.node("Gemm", []string{f, g.weight("w", 0.3, 0, 6, 48), g.weight("b", 0.2, 0.1, 6)}, "emb", intAttr("transB", 1))
	return g
}

// unitRows is k seeded random unit vectors of d values.
func unitRows(k, d int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]float32, k)
	for i := range out {
		var ss float64
		row := make([]float32, d)
		for j := range row {
			row[j] = float32(rng.NormFloat64())
			ss += float64(row[j]) * float64(row[j])
		}
		for j := range row {
			row[j] /= float32(math.Sqrt(ss))
		}
		out[i] = row
	}
	return out
}

// runORT runs model on one float32 input and returns the named output.
func runORT(t *testing.T, model []byte, input string, shape []int64, x []float32, output string) []float32 {
	t.Helper()
	requireORT(t)
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{input}, []string{output}, nil)
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	defer s.Destroy()
	xt, err := ort.NewTensor(ort.NewShape(shape...), append([]float32(nil), x...))
	if err != nil {
		t.Fatal(err)
	}
	defer xt.Destroy()
	outs := []ort.Value{nil}
	if err := s.Run([]ort.Value{xt}, outs); err != nil {
		t.Fatalf("run: %v", err)
	}
	defer outs[0].Destroy()
	return append([]float32(nil), outs[0].(*ort.Tensor[float32]).GetData()...)
}

// TestZeroShotHead checks the composed classifier's scores against scale·cos (and the category
// mean of the softmax) computed from the encoder's own embeddings, and its gradient model against
// finite differences.
func TestZeroShotHead(t *testing.T) {
	requireORT(t)
	const d, k, scale = 6, 5, 10
	classes := unitRows(k, d, 3)
	cats := [][]int{{0, 1}, {2, 3, 4}}
	x := randomInput(2, []int64{3, 4, 4}, -1, 1, 11)
	g := encoderGraph(t)
	enc := g.encode(d)
	emb := runORT(t, enc, "x", []int64{2, 3, 4, 4}, x, "emb")
	for _, tc := range []struct {
		name string
		cats [][]int
	}{{"logits", nil}, {"categories", cats}} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(enc, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := m.AppendZeroShotHead(ZeroShotHead{Classes: classes, Scale: scale, Categories: tc.cats}); err != nil {
				t.Fatal(err)
			}
			if err := m.AppendZeroShotHead(ZeroShotHead{Classes: classes, Scale: scale}); err == nil {
				t.Error("a second head was appended")
			}
			model, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got := runORT(t, model, "x", []int64{2, 3, 4, 4}, x, ZeroShotOutput)
			var want []float64
			for i := range 2 {
				e := emb[i*d : (i+1)*d]
				var nrm float64
				for _, v := range e {
					nrm += float64(v) * float64(v)
				}
				nrm = math.Sqrt(nrm)
				z := make([]float64, k)
				for c, row := range classes {
					for j := range row {
						z[c] += float64(e[j]) / nrm * float64(row[j])
					}
					z[c] *= scale
				}
				if tc.cats == nil {
					want = append(want, z...)
					continue
				}
				var sum float64
				for _, v := range z {
					sum += math.Exp(v)
				}
				for _, idx := range tc.cats {
					var p float64
					for _, c := range idx {
						p += math.Exp(z[c]) / sum
					}
					want = append(want, p/float64(len(idx)))
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d scores, want %d", len(got), len(want))
			}
			for i := range got {
				if math.Abs(float64(got[i])-want[i]) > 1e-5*math.Max(1, math.Abs(want[i])) {
					t.Errorf("score %d: %g, want %g", i, got[i], want[i])
				}
			}
			composed, err := Parse(model, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, loss := range []string{LossCrossEntropy, LossMargin} {
				opts := GradientOptions{Loss: loss, Probabilities: tc.cats != nil}
				gm, err := composed.GradientModel(opts)
				if err != nil {
					t.Fatalf("%s: %v", loss, err)
				}
				s := newGradSession(t, gm, "x", []int64{3, 4, 4})
				labels := []int64{1, 0}
				if tc.cats == nil {
					checkLogits(t, model, s, x, labels, "x", ZeroShotOutput)
				}
				checkFiniteDifferences(t, s, fdCheck{ref: newRefModel(t, composed), input: "x", output: ZeroShotOutput, loss: loss,
					probabilities: tc.cats != nil, directions: 4, coordinates: 6}, x, labels)
			}
		})
	}
}

// TestZeroShotHeadRejects checks the head's argument errors.
func TestZeroShotHeadRejects(t *testing.T) {
	enc := encoderGraph(t).encode(6)
	for _, tc := range []struct {
		name string
		head ZeroShotHead
	}{
		{"no classes", ZeroShotHead{Scale: 1}},
		{"wrong size", ZeroShotHead{Classes: unitRows(3, 4, 1), Scale: 1}},
		{"ragged", ZeroShotHead{Classes: [][]float32{make([]float32, 6), make([]float32, 5)}, Scale: 1}},
		{"no such output", ZeroShotHead{Embedding: "nope", Classes: unitRows(3, 6, 1), Scale: 1}},
		{"category out of range", ZeroShotHead{Classes: unitRows(3, 6, 1), Scale: 1, Categories: [][]int{{0, 3}}}},
		{"empty category", ZeroShotHead{Classes: unitRows(3, 6, 1), Scale: 1, Categories: [][]int{{0}, {}}}},
	} {
		m, err := Parse(enc, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := m.AppendZeroShotHead(tc.head); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestTokenImageInput feeds token ids through the image-shaped input of a graph that returns
// its int64 tokens as floats.
func TestTokenImageInput(t *testing.T) {
	requireORT(t)
	const ctx = 77
	graph := newMessage(stringField(graphName, "text"),
		messageField(graphNode, nodeMessage("cast", "Cast", []string{"text"}, []string{"embedding"}, intAttr("to", int64(Float32)))),
		messageField(graphInput, valueInfoMessage("text", Int64, []Dim{{Param: "batch"}, {Value: ctx}})),
		messageField(graphOutput, valueInfoMessage("embedding", Float32, []Dim{{Param: "batch"}, {Value: ctx}})))
	enc, err := modelMessage(8, 13, graph).marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(enc, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.TokenImageInput("text", ctx); err != nil {
		t.Fatal(err)
	}
	if in := m.Inputs(); len(in) != 1 || in[0].Name != TokenInput || len(in[0].Dims) != 4 || in[0].Dims[3].Value != TokenImageWidth(ctx) {
		t.Fatalf("inputs %+v", in)
	}
	model, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	w := TokenImageWidth(ctx)
	x := make([]float32, 2*3*w)
	for i := range 2 {
		for j := range ctx {
			x[i*int(3*w)+j] = float32(49406 - 1000*i - j)
		}
	}
	got := runORT(t, model, TokenInput, []int64{2, 3, 1, w}, x, "embedding")
	if len(got) != 2*ctx {
		t.Fatalf("%d values, want %d", len(got), 2*ctx)
	}
	for i := range 2 {
		for j := range ctx {
			if want := float32(49406 - 1000*i - j); got[i*ctx+j] != want {
				t.Fatalf("sample %d token %d: %g, want %g", i, j, got[i*ctx+j], want)
			}
		}
	}
	if err := m.TokenImageInput("text", ctx); err == nil {
		t.Error("the replaced input was replaced again")
	}
}

// TestKeepPath cuts each tower out of a graph with two: image x → "image_embeds", token ids →
// "text_embeds"; each cut runs on its own input alone, and a path that needs both inputs is refused.
func TestKeepPath(t *testing.T) {
	requireORT(t)
	ref := encoderGraph(t).encode(6) // the same seeded weights as g's
	g := encoderGraph(t)
	g.node("Cast", []string{"ids"}, "ids_float", intAttr("to", int64(Float32)))
	g.node("Mul", []string{"ids_float", g.weight("two", 0, 2, 1)}, "text_embeds")
	g.node("Identity", []string{g.output}, "image_embeds")
	g.node("Add", []string{g.node("ReduceSum", []string{"ids_float"}, "ids_sum", intAttr("keepdims", 1)), "emb"}, "both")
	graph := newMessage(stringField(graphName, "two towers"))
	for _, n := range g.nodes {
		graph.fields = append(graph.fields, messageField(graphNode, n))
	}
	for _, w := range g.inits {
		graph.fields = append(graph.fields, messageField(graphInitializer, w))
	}
	n := Dim{Param: "N"}
	graph.fields = append(graph.fields,
		messageField(graphInput, valueInfoMessage("x", Float32, []Dim{n, {Value: 3}, {Value: 4}, {Value: 4}})),
		messageField(graphInput, valueInfoMessage("ids", Int64, []Dim{n, {Value: 5}})),
		messageField(graphOutput, valueInfoMessage("image_embeds", Float32, []Dim{n, {Value: 6}})),
		messageField(graphOutput, valueInfoMessage("text_embeds", Float32, []Dim{n, {Value: 5}})),
		messageField(graphOutput, valueInfoMessage("both", Float32, []Dim{n, {Value: 6}})))
	both, err := modelMessage(8, 13, graph).marshal()
	if err != nil {
		t.Fatal(err)
	}
	x := randomInput(2, []int64{3, 4, 4}, -1, 1, 5)
	want := runORT(t, ref, "x", []int64{2, 3, 4, 4}, x, "emb")
	m, err := Parse(both, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.KeepPath("x", "image_embeds"); err != nil {
		t.Fatal(err)
	}
	if ins, outs := m.Inputs(), m.Outputs(); len(ins) != 1 || ins[0].Name != "x" || len(outs) != 1 || outs[0].Name != "image_embeds" {
		t.Fatalf("inputs %v, outputs %v", ins, outs)
	}
	image, _ := m.Marshal()
	if got := runORT(t, image, "x", []int64{2, 3, 4, 4}, x, "image_embeds"); maxAbsDiff(got, want) > 0 {
		t.Errorf("the cut image tower gives %v, the encoder %v", got, want)
	}
	m, _ = Parse(both, "")
	if err := m.KeepPath("ids", "text_embeds"); err != nil {
		t.Fatal(err)
	}
	if err := m.TokenImageInput("ids", 5); err != nil {
		t.Fatal(err)
	}
	text, _ := m.Marshal()
	got := runORT(t, text, TokenInput, []int64{1, 3, 1, 2}, []float32{1, 2, 3, 4, 5, 0}, "text_embeds")
	if !slicesEqual(got, []float32{2, 4, 6, 8, 10}) {
		t.Errorf("the cut text tower gives %v", got)
	}
	m, _ = Parse(both, "")
	if err := m.KeepPath("x", "both"); err == nil {
		t.Error("a path that reads both inputs was cut to one")
	}
	if err := m.KeepPath("nope", "image_embeds"); err == nil {
		t.Error("an unknown input was accepted")
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
