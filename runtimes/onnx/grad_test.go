package onnx

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// testGraph builds small models from hand-written nodes with seeded random weights.
type testGraph struct {
	t      *testing.T
	rng    *rand.Rand
	opset  int64
	dt     DType
	input  []int64 // [N, C, H, W]
	nodes  []*message
	inits  []*message
	output string
}

func newTestGraph(t *testing.T, opset int64, input ...int64) *testGraph {
	return &testGraph{t: t, rng: rand.New(rand.NewPCG(uint64(len(t.Name())), 7)), opset: opset, dt: Float32, input: input}
}

// weight adds a random initializer of scale s (plus offset) and returns its name.
func (g *testGraph) weight(name string, s, offset float32, dims ...int64) string {
	vals := make([]float32, product(dims))
	for i := range vals {
		vals[i] = offset + s*float32(g.rng.NormFloat64())
	}
	t, err := tensorMessage(name, g.dt, dims, vals)
	if err != nil {
		g.t.Fatal(err)
	}
	g.inits = append(g.inits, t)
	return name
}

// ints adds an int64 initializer.
func (g *testGraph) ints(name string, vals ...int64) string {
	b := &gradBuilder{}
	b.vec(vals...)
	t := b.inits[0]
	t.set(stringField(tensorName, name))
	g.inits = append(g.inits, t)
	return name
}

// node adds a node whose single output is named out.
func (g *testGraph) node(op string, ins []string, out string, attrs ...*message) string {
	g.nodes = append(g.nodes, nodeMessage(out, op, ins, []string{out}, attrs...))
	return out
}

// head adds Flatten → Gemm to k classes on x with c features per sample and makes it the output.
func (g *testGraph) head(x string, c, k int64) {
	f := g.node("Flatten", []string{x}, "head_flat", intAttr("axis", 1))
	w := g.weight("head_w", 1/float32(math.Sqrt(float64(c))), 0, k, c)
	bias := g.weight("head_b", 0.1, 0, k)
	g.output = g.node("Gemm", []string{f, w, bias}, "logits", intAttr("transB", 1))
}

// encode returns the model bytes.
func (g *testGraph) encode(k int64) []byte {
	graph := newMessage(stringField(graphName, "test"))
	for _, n := range g.nodes {
		graph.fields = append(graph.fields, messageField(graphNode, n))
	}
	for _, t := range g.inits {
		graph.fields = append(graph.fields, messageField(graphInitializer, t))
	}
	dims := make([]Dim, len(g.input))
	for i, d := range g.input {
		dims[i] = Dim{Value: d}
	}
	dims[0] = Dim{Param: "N"}
	graph.fields = append(graph.fields,
		messageField(graphInput, valueInfoMessage("x", g.dt, dims)),
		messageField(graphOutput, valueInfoMessage(g.output, g.dt, []Dim{{Param: "N"}, {Value: k}})))
	b, err := modelMessage(8, g.opset, graph).marshal()
	if err != nil {
		g.t.Fatal(err)
	}
	return b
}

// gradSession runs a gradient model.
type gradSession struct {
	t     testing.TB
	s     *ort.DynamicAdvancedSession
	input string
	shape []int64 // per-sample input shape
}

func newGradSession(t testing.TB, model []byte, input string, shape []int64) *gradSession {
	t.Helper()
	requireORT(t)
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{input, GradientLabel},
		[]string{GradientLogits, GradientLoss, GradientOutput}, opts)
	if err != nil {
		t.Fatalf("create gradient session: %v", err)
	}
	t.Cleanup(func() { s.Destroy() })
	return &gradSession{t: t, s: s, input: input, shape: shape}
}

// run returns logits, per-sample loss and gradient for images x (n samples) and labels.
func (s *gradSession) run(x []float32, labels []int64) (logits, loss, grad []float32) {
	s.t.Helper()
	n := int64(len(labels))
	xt, err := ort.NewTensor(ort.NewShape(append([]int64{n}, s.shape...)...), append([]float32(nil), x...))
	if err != nil {
		s.t.Fatal(err)
	}
	defer xt.Destroy()
	lt, err := ort.NewTensor(ort.NewShape(n), append([]int64(nil), labels...))
	if err != nil {
		s.t.Fatal(err)
	}
	defer lt.Destroy()
	outs := []ort.Value{nil, nil, nil}
	if err := s.s.Run([]ort.Value{xt, lt}, outs); err != nil {
		s.t.Fatalf("run gradient model: %v", err)
	}
	res := make([][]float32, 3)
	for i, o := range outs {
		res[i] = append([]float32(nil), o.(*ort.Tensor[float32]).GetData()...)
		o.Destroy()
	}
	return res[0], res[1], res[2]
}

// fdCheck says where checkFiniteDifferences probes.
type fdCheck struct {
	ref           *refModel
	input, output string
	loss          string
	probabilities bool
	directions    int // random ±1 directions on 16 coordinates of each sample
	coordinates   int // coordinates of largest |gradient| per sample
}

// checkFiniteDifferences compares the float32 gradient of the gradient model with central
// differences (step 1e-6) of the loss evaluated in float64 by the reference evaluator: along
// sparse random ±1 directions and at the coordinates of largest |gradient|. The relative error
// |fd − g| / max(|fd|, |g|) must stay below 1e-3.
func checkFiniteDifferences(t *testing.T, s *gradSession, c fdCheck, x []float32, labels []int64) {
	t.Helper()
	const h, tol = 1e-6, 1e-3
	_, _, grad := s.run(x, labels)
	n := len(labels)
	per := len(x) / n
	rng := rand.New(rand.NewPCG(3, 4))
	for _, g := range grad {
		if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
			t.Fatalf("gradient holds %v", g)
		}
	}
	shape := append([]int64{int64(n)}, s.shape...)
	loss := func(v []float64) []float64 {
		xx := make([]float64, len(x))
		for i := range x {
			xx[i] = float64(x[i]) + v[i]
		}
		z, err := c.ref.run(c.input, ten{shape, xx}, c.output)
		if err != nil {
			t.Fatal(err)
		}
		return refLoss(z, labels, c.loss, c.probabilities)
	}
	rel := func(fd, g float64) float64 {
		return math.Abs(fd-g) / math.Max(math.Max(math.Abs(fd), math.Abs(g)), 1e-9)
	}
	probe := func(v []float64) []float64 {
		plus, minus := make([]float64, len(v)), make([]float64, len(v))
		for i := range v {
			plus[i], minus[i] = h*v[i], -h*v[i]
		}
		lp, lm := loss(plus), loss(minus)
		fd := make([]float64, n)
		for i := range fd {
			fd[i] = (lp[i] - lm[i]) / (2 * h)
		}
		return fd
	}
	check := func(what string, i int, fd, g float64) {
		if e := rel(fd, g); e > tol {
			t.Errorf("sample %d, %s: gradient %.7g, finite difference %.7g (relative error %.2g > %g)", i, what, g, fd, e, tol)
		}
	}
	for d := 0; d < c.directions; d++ {
		v := make([]float64, len(x))
		for i := 0; i < n; i++ {
			for k := 0; k < 16; k++ {
				v[i*per+rng.IntN(per)] = float64(2*rng.IntN(2) - 1)
			}
		}
		fd := probe(v)
		for i := 0; i < n; i++ {
			dot := 0.0
			for j := i * per; j < (i+1)*per; j++ {
				dot += float64(grad[j]) * v[j]
			}
			check(fmt.Sprintf("direction %d", d), i, fd[i], dot)
		}
	}
	for i := 0; i < n; i++ {
		idx := make([]int, per)
		for j := range idx {
			idx[j] = i*per + j
		}
		sort.Slice(idx, func(a, b int) bool { return math.Abs(float64(grad[idx[a]])) > math.Abs(float64(grad[idx[b]])) })
		for _, j := range idx[:c.coordinates] {
			e := make([]float64, len(x))
			e[j] = 1
			check(fmt.Sprintf("coordinate %d", j-i*per), i, probe(e)[i], float64(grad[j]))
		}
	}
}

// checkLogits fails unless the gradient model's logits equal the original model's.
func checkLogits(t *testing.T, model []byte, s *gradSession, x []float32, labels []int64, input, output string) {
	t.Helper()
	orig, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{input}, []string{output}, nil)
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	defer orig.Destroy()
	n := int64(len(labels))
	xt, err := ort.NewTensor(ort.NewShape(append([]int64{n}, s.shape...)...), append([]float32(nil), x...))
	if err != nil {
		t.Fatal(err)
	}
	defer xt.Destroy()
	outs := []ort.Value{nil}
	if err := orig.Run([]ort.Value{xt}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	want := outs[0].(*ort.Tensor[float32]).GetData()
	got, _, _ := s.run(x, labels)
	if d := maxAbsDiff(got, want); d > 1e-4 {
		t.Fatalf("gradient model logits differ from the model's by %g", d)
	}
}

// randomInput is n samples of the given per-sample shape, uniform in [lo, hi).
func randomInput(n int, shape []int64, lo, hi float32, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 9))
	x := make([]float32, int64(n)*product(shape))
	for i := range x {
		x[i] = lo + (hi-lo)*rng.Float32()
	}
	return x
}

// TestGradientOps checks every gradient rule on a small graph against finite differences of the
// loss, for both losses, and that the gradient model's logits are the model's.
func TestGradientOps(t *testing.T) {
	requireORT(t)
	type build func(g *testGraph) // adds nodes from "x" and calls head
	cases := []struct {
		name  string
		opset int64
		input []int64
		build build
	}{
		{"conv groups strides pads dilations", 13, []int64{2, 4, 9, 10}, func(g *testGraph) {
			w := g.weight("w", 0.3, 0, 6, 2, 3, 3)
			c := g.node("Conv", []string{"x", w, g.weight("b", 0.1, 0, 6)}, "conv", intAttr("group", 2),
				intsAttr("strides", 2, 1), intsAttr("pads", 1, 2, 0, 1), intsAttr("dilations", 2, 1))
			g.head(g.node("Tanh", []string{c}, "t"), 6*3*11, 5)
		}},
		{"conv auto_pad same_upper stride 2", 13, []int64{2, 3, 7, 8}, func(g *testGraph) {
			c := g.node("Conv", []string{"x", g.weight("w", 0.3, 0, 4, 3, 3, 2)}, "conv", intsAttr("strides", 2, 2), stringAttr("auto_pad", "SAME_UPPER"))
			g.head(g.node("Sigmoid", []string{c}, "s"), 4*4*4, 5)
		}},
		{"conv auto_pad same_lower, depthwise", 13, []int64{2, 3, 6, 6}, func(g *testGraph) {
			c := g.node("Conv", []string{"x", g.weight("w", 0.3, 0, 3, 1, 4, 4)}, "conv", intAttr("group", 3), intsAttr("kernel_shape", 4, 4),
				stringAttr("auto_pad", "SAME_LOWER"))
			g.head(g.node("Tanh", []string{c}, "t"), 3*6*6, 5)
		}},
		{"relu leakyrelu clip", 13, []int64{2, 3, 4, 4}, func(g *testGraph) {
			r := g.node("Relu", []string{g.node("Add", []string{"x", g.weight("o", 0.5, 0, 3, 4, 4)}, "a")}, "r")
			l := g.node("LeakyRelu", []string{g.node("Sub", []string{"x", g.weight("o2", 0.5, 0, 1, 4, 4)}, "s")}, "l", floatAttr("alpha", 0.1))
			c := g.node("Clip", []string{g.node("Mul", []string{"x", g.weight("m", 1, 0, 4)}, "mm"), g.weight("lo", 0, -0.3), g.weight("hi", 0, 0.4)}, "c")
			s := g.node("Sum", []string{r, l, c}, "sum")
			g.head(s, 48, 5)
		}},
		{"clip opset 7 attributes, dropout, hard sigmoid", 7, []int64{2, 3, 4, 4}, func(g *testGraph) {
			c := g.node("Clip", []string{"x"}, "c", floatAttr("min", -0.2), floatAttr("max", 0.3))
			d := g.node("Dropout", []string{c}, "d", floatAttr("ratio", 0.5))
			h := g.node("HardSigmoid", []string{g.node("Mul", []string{d, g.weight("m", 0, 3, 1)}, "m3")}, "hs", floatAttr("alpha", 0.3), floatAttr("beta", 0.4))
			g.head(h, 48, 5)
		}},
		{"hardswish, SE block (broadcast Mul of two active tensors)", 14, []int64{2, 4, 5, 5}, func(g *testGraph) {
			c := g.node("Conv", []string{"x", g.weight("w", 0.5, 0, 4, 4, 1, 1)}, "conv")
			hs := g.node("HardSwish", []string{g.node("Mul", []string{c, g.weight("k", 0, 4, 1)}, "k4")}, "hs")
			se := g.node("Sigmoid", []string{g.node("Conv", []string{g.node("GlobalAveragePool", []string{hs}, "gap"), g.weight("w2", 0.5, 0, 4, 4, 1, 1)}, "c2")}, "se")
			g.head(g.node("Mul", []string{hs, se}, "scaled"), 100, 5)
		}},
		{"batch normalization, div, broadcast add of active tensors", 13, []int64{2, 3, 4, 4}, func(g *testGraph) {
			bn := g.node("BatchNormalization", []string{"x", g.weight("sc", 0.3, 1, 3), g.weight("bb", 0.2, 0, 3),
				g.weight("mu", 0.2, 0, 3), g.weight("var", 0.1, 1, 3)}, "bn", floatAttr("epsilon", 1e-3))
			den := g.node("Add", []string{g.node("Mul", []string{"x", "x"}, "x2"), g.weight("one", 0, 1, 1)}, "den")
			q := g.node("Div", []string{bn, den}, "q")
			pool := g.node("GlobalAveragePool", []string{q}, "p")
			g.head(g.node("Add", []string{q, pool}, "qa"), 48, 5)
		}},
		{"maxpool overlapping padded, averagepool", 13, []int64{2, 2, 9, 9}, func(g *testGraph) {
			m := g.node("MaxPool", []string{"x"}, "mp", intsAttr("kernel_shape", 3, 3), intsAttr("strides", 2, 2), intsAttr("pads", 1, 1, 1, 1))
			a := g.node("AveragePool", []string{m}, "ap", intsAttr("kernel_shape", 3, 3), intsAttr("strides", 1, 1), intsAttr("pads", 1, 1, 1, 1))
			a2 := g.node("AveragePool", []string{m}, "ap2", intsAttr("kernel_shape", 2, 2), intsAttr("strides", 1, 1),
				intsAttr("pads", 1, 0, 0, 1), intAttr("count_include_pad", 1))
			a3 := g.node("AveragePool", []string{m}, "ap3", intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2))
			g.head(g.node("Concat", []string{g.node("Flatten", []string{a}, "fa", intAttr("axis", 1)),
				g.node("Flatten", []string{a2}, "fa2", intAttr("axis", 1)), g.node("Flatten", []string{a3}, "fa3", intAttr("axis", 1))}, "cat", intAttr("axis", 1)),
				2*25*2+2*4, 5)
		}},
		{"concat, reshape, squeeze, unsqueeze, transpose", 13, []int64{2, 2, 3, 4}, func(g *testGraph) {
			c := g.node("Concat", []string{"x", g.weight("cst", 1, 0, 2, 2, 3, 4), g.node("Neg", []string{"x"}, "nx")}, "cat", intAttr("axis", 1))
			tr := g.node("Transpose", []string{c}, "tr", intsAttr("perm", 0, 3, 1, 2))
			r := g.node("Reshape", []string{tr, g.ints("shape", 2, 4, 6, 3)}, "r")
			u := g.node("Unsqueeze", []string{r, g.ints("ax", 1)}, "u")
			s := g.node("Squeeze", []string{u, g.ints("ax2", 1)}, "s")
			g.head(g.node("Tanh", []string{s}, "t"), 72, 5)
		}},
		{"pad constant reflect edge", 13, []int64{2, 2, 4, 5}, func(g *testGraph) {
			p1 := g.node("Pad", []string{"x", g.ints("p1", 0, 0, 1, 2, 0, 0, 2, 1)}, "p1o")
			p2 := g.node("Pad", []string{"x", g.ints("p2", 0, 0, 2, 1, 0, 0, 1, 2)}, "p2o", stringAttr("mode", "reflect"))
			p3 := g.node("Pad", []string{"x", g.ints("p3", 0, 0, 1, 2, 0, 0, 2, 1)}, "p3o", stringAttr("mode", "edge"))
			w := g.weight("w", 0.4, 0, 3, 2, 3, 3)
			c1 := g.node("Conv", []string{p1, w}, "c1")
			c2 := g.node("Conv", []string{p2, w}, "c2")
			c3 := g.node("Conv", []string{p3, w}, "c3")
			g.head(g.node("Concat", []string{c1, g.node("Tanh", []string{c2}, "t2"), c3}, "cat", intAttr("axis", 1)), 3*3*5*6, 5)
		}},
		{"softmax mid-graph, matmul", 13, []int64{2, 3, 4, 4}, func(g *testGraph) {
			s := g.node("Softmax", []string{"x"}, "sm", intAttr("axis", 3))
			m := g.node("MatMul", []string{s, g.weight("mw", 0.5, 0, 4, 6)}, "mm")
			l := g.node("LogSoftmax", []string{m}, "lsm", intAttr("axis", 1))
			g.head(g.node("Add", []string{m, l}, "ml"), 72, 5)
		}},
		{"softmax opset 7 (2-D coercion)", 7, []int64{2, 3, 2, 2}, func(g *testGraph) {
			s := g.node("Softmax", []string{"x"}, "sm", intAttr("axis", 2))
			g.head(g.node("Mul", []string{s, g.weight("k", 0, 5, 1)}, "k5"), 12, 5)
		}},
	}
	for _, tc := range cases {
		for _, loss := range []string{LossCrossEntropy, LossMargin} {
			t.Run(tc.name+"/"+loss, func(t *testing.T) {
				g := newTestGraph(t, tc.opset, tc.input...)
				tc.build(g)
				model := g.encode(5)
				m, err := Parse(model, "")
				if err != nil {
					t.Fatal(err)
				}
				gm, err := m.GradientModel(GradientOptions{Loss: loss})
				if err != nil {
					t.Fatal(err)
				}
				s := newGradSession(t, gm, "x", tc.input[1:])
				x := randomInput(int(tc.input[0]), tc.input[1:], -1, 1, 11)
				labels := []int64{1, 3}
				checkLogits(t, model, s, x, labels, "x", g.output)
				checkFiniteDifferences(t, s, fdCheck{ref: newRefModel(t, m), input: "x", output: g.output, loss: loss,
					directions: 4, coordinates: 6}, x, labels)
			})
		}
	}
}

// TestGradientFloat16 differentiates a float16 classifier in float32.
func TestGradientFloat16(t *testing.T) {
	requireORT(t)
	rng := rand.New(rand.NewPCG(5, 6))
	r := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64()) * 0.5
		}
		return v
	}
	c := Classifier{DType: Float16, Channels: 3, Height: 6, Width: 6, Filters: 4, Kernel: 3, Classes: 5,
		ConvWeight: r(4 * 3 * 9), ConvBias: r(4), FCWeight: r(20), FCBias: r(5)}
	model, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(model, "")
	if err != nil {
		t.Fatal(err)
	}
	gm, err := m.GradientModel(GradientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := newGradSession(t, gm, ClassifierInput, []int64{3, 6, 6})
	x := randomInput(2, []int64{3, 6, 6}, 0, 1, 2)
	checkFiniteDifferences(t, s, fdCheck{ref: newRefModel(t, m), input: ClassifierInput, output: ClassifierOutput,
		directions: 4, coordinates: 6}, x, []int64{0, 4})
}

// TestGradientUnsupported names the op and node without a rule, as validate reports it.
func TestGradientUnsupported(t *testing.T) {
	g := newTestGraph(t, 13, 1, 3, 4, 4)
	g.node("Erf", []string{"x"}, "erf_out")
	g.nodes[len(g.nodes)-1].set(stringField(nodeName, "my_erf"))
	g.head("erf_out", 48, 5)
	m, err := Parse(g.encode(5), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.GradientModel(GradientOptions{})
	if err == nil || !strings.Contains(err.Error(), "Erf") || !strings.Contains(err.Error(), "my_erf") {
		t.Fatalf("GradientModel error = %v, want one naming op Erf and node my_erf", err)
	}
	if _, err := m.GradientModel(GradientOptions{Loss: "hinge"}); err == nil {
		t.Fatal("loss hinge accepted")
	}
}

// TestCheckGradientInt8 refuses the quantised MobileNetV2, naming its QLinearConv.
func TestCheckGradientInt8(t *testing.T) {
	path := filepath.Join(sharedData, "models", "mobilenetv2-12-int8", "model.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared test data not found (%v)", err)
	}
	err := CheckGradient(path)
	if err == nil || !strings.Contains(err.Error(), "QLinearConv") || !strings.Contains(err.Error(), `"Conv_0_quant" and 51 more`) {
		t.Fatalf("CheckGradient = %v, want an error naming QLinearConv, its first node and count", err)
	}
	if err := CheckGradientWith(requireSqueezeNet(t), GradientOptions{Output: "pool10_1"}); err != nil {
		t.Errorf("SqueezeNet at pool10_1: %v", err)
	}
	if err := CheckGradientWith(squeezenet, GradientOptions{Output: "no_such_tensor"}); err == nil {
		t.Error("a missing score tensor passed the check")
	}
}

// TestGradientZoo checks the zoo models' gradients against finite differences.
func TestGradientZoo(t *testing.T) {
	requireORT(t)
	for name, loss := range map[string]string{"standard": LossCrossEntropy, "advtrain": LossMargin} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(repoRoot, "zoo", "models", name+".onnx")
			if err := CheckGradient(path); err != nil {
				t.Fatal(err)
			}
			m, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			in := m.Inputs()[0]
			ref := newRefModel(t, m)
			{
				gm, err := m.GradientModel(GradientOptions{Loss: loss})
				if err != nil {
					t.Fatal(err)
				}
				shape := []int64{3, in.Dims[2].Value, in.Dims[3].Value}
				s := newGradSession(t, gm, in.Name, shape)
				x := randomInput(2, shape, 0, 1, 21)
				checkFiniteDifferences(t, s, fdCheck{ref: ref, input: in.Name, output: m.Outputs()[0].Name, loss: loss,
					directions: 2, coordinates: 3}, x, []int64{0, 5})
			}
		})
	}
}

// TestGradientSqueezeNet checks SqueezeNet (float16 weights, opset 7, probabilities output; the
// logits are pool10_1) against finite differences, computed in float32.
func TestGradientSqueezeNet(t *testing.T) {
	if testing.Short() {
		t.Skip("SqueezeNet gradient check takes seconds")
	}
	path := requireSqueezeNet(t)
	requireORT(t)
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ref := newRefModel(t, m)
	for _, opts := range []GradientOptions{{Output: "pool10_1", Loss: LossMargin}, {Probabilities: true}} {
		t.Run(fmt.Sprintf("%s/%s/probabilities=%v", opts.Output, opts.Loss, opts.Probabilities), func(t *testing.T) {
			gm, err := m.GradientModel(opts)
			if err != nil {
				t.Fatal(err)
			}
			shape := []int64{3, 224, 224}
			s := newGradSession(t, gm, "data_0", shape)
			x := randomInput(1, shape, -100, 100, 31)
			out := opts.Output
			if out == "" {
				out = m.Outputs()[0].Name
			}
			checkFiniteDifferences(t, s, fdCheck{ref: ref, input: "data_0", output: out, loss: opts.Loss, probabilities: opts.Probabilities,
				directions: 1, coordinates: 1}, x, []int64{7})
		})
	}
}
