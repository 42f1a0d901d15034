package onnx

import (
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Names of the tensors the zero-shot editors add.
const (
	ZeroShotOutput = "vistudy_zero_shot" // float32 [N, K]: the zero-shot classifier's scores
	TokenInput     = "vistudy_tokens"    // float32 [N, 3, 1, TokenImageWidth(context)]: token ids as an image
	zeroShotPrefix = "vistudy_zs/"
)

// TokenImageWidth is the width of the image-shaped input that carries context token ids: three
// channels of one row hold ⌈context/3⌉·3 values, the ids first, then zeros the graph drops.
func TokenImageWidth(context int64) int64 { return (context + 2) / 3 }

// TokenImageInput replaces the integer token input [N, context] of a text encoder by a float32
// input TokenInput shaped like an image, [N, 3, 1, TokenImageWidth(context)], which the graph
// flattens, cuts to context values and casts to the token type. A runtime that feeds float32
// images (ONNX Runtime's plugin) can then run the text encoder; token ids up to 2^24 are exact in
// float32 (CLIP's vocabulary has 49,408). The other inputs are left as they are.
func (m *Model) TokenImageInput(input string, context int64) error {
	ins, err := m.valueInfos(graphInput)
	if err != nil {
		return fmt.Errorf("token input: %w", err)
	}
	i := slices.IndexFunc(ins, func(v ValueInfo) bool { return v.Name == input })
	if i < 0 {
		return fmt.Errorf("token input: %q is not a graph input", input)
	}
	in := ins[i]
	if in.ElemType != Int64 && in.ElemType != Int32 {
		return fmt.Errorf("token input: %q is %s, not integer token ids", input, in.ElemType)
	}
	if context <= 0 {
		return fmt.Errorf("token input: context length %d", context)
	}
	batch := Dim{Param: "N"}
	if len(in.Dims) > 0 && in.Dims[0].Param != "" {
		batch = in.Dims[0]
	}
	if err := m.graph.removeIf(graphInput, func(vi *message) bool { return vi.str(valueInfoName) == input }); err != nil {
		return fmt.Errorf("token input: %w", err)
	}
	w := TokenImageWidth(context)
	// Graph inputs go first among the graph's fields, as exporters write them.
	m.graph.insertFirst(messageField(graphInput, valueInfoMessage(TokenInput, Float32, []Dim{batch, {Value: 3}, {Value: 1}, {Value: w}})))
	shape := m.addInts(zeroShotPrefix+"token_shape", []int64{2}, 0, -1)
	starts := m.addInts(zeroShotPrefix+"token_starts", []int64{1}, 0)
	ends := m.addInts(zeroShotPrefix+"token_ends", []int64{1}, context)
	axes := m.addInts(zeroShotPrefix+"token_axes", []int64{1}, 1)
	nodes := []*message{
		nodeMessage(zeroShotPrefix+"token_flat", "Reshape", []string{TokenInput, shape}, []string{zeroShotPrefix + "token_flat"}),
		nodeMessage(zeroShotPrefix+"token_cut", "Slice", []string{zeroShotPrefix + "token_flat", starts, ends, axes}, []string{zeroShotPrefix + "token_cut"}),
		nodeMessage(zeroShotPrefix+"token_cast", "Cast", []string{zeroShotPrefix + "token_cut"}, []string{input}, intAttr("to", int64(in.ElemType))),
	}
	for k := len(nodes) - 1; k >= 0; k-- {
		m.graph.insertFirst(messageField(graphNode, nodes[k])) // nodes are topologically sorted
	}
	return nil
}

// ZeroShotHead is the classifier head AppendZeroShotHead puts on an image encoder.
type ZeroShotHead struct {
	Embedding string      // the encoder's embedding output [N, D]; "" is the graph's first output
	Classes   [][]float32 // class embeddings [K][D], unit rows
	Scale     float32     // logit scale
	// Categories, when set, lists the classes of each coarse category: the output is then the mean
	// softmax probability of each category's classes (model-vs-human's aggregation), C scores.
	Categories [][]int
}

// AppendZeroShotHead turns an image encoder into a classifier: the embedding is L2-normalised,
// multiplied by the class-embedding matrix and by the scale (scale · cosine, CLIP's zero-shot
// logits), optionally aggregated into categories (softmax, then the mean probability per
// category). The head is MatMul with constant matrices, Mul, Div, Add, Sqrt and Softmax, all of
// which GradientModel differentiates. The graph's outputs are replaced by ZeroShotOutput, float32
// [N, K] (logits) or [N, C] (probabilities, with Categories).
func (m *Model) AppendZeroShotHead(h ZeroShotHead) error {
	outs, err := m.valueInfos(graphOutput)
	if err != nil {
		return fmt.Errorf("zero-shot head: %w", err)
	}
	emb := h.Embedding
	if emb == "" {
		if len(outs) == 0 {
			return fmt.Errorf("zero-shot head: the graph has no output")
		}
		emb = outs[0].Name
	}
	o := slices.IndexFunc(outs, func(v ValueInfo) bool { return v.Name == emb })
	if o < 0 {
		return fmt.Errorf("zero-shot head: %q is not a graph output", emb)
	}
	out := outs[o]
	if len(h.Classes) == 0 {
		return fmt.Errorf("zero-shot head: no class embeddings")
	}
	d := len(h.Classes[0])
	if len(out.Dims) == 2 && out.Dims[1].Value > 0 && int(out.Dims[1].Value) != d {
		return fmt.Errorf("zero-shot head: the embedding %q has %d dimensions, the class embeddings %d", emb, out.Dims[1].Value, d)
	}
	if len(out.Dims) != 0 && len(out.Dims) != 2 {
		return fmt.Errorf("zero-shot head: the embedding %q has shape %v, want [N, D]", emb, out.Dims)
	}
	if _, done := m.inits[zeroShotPrefix+"classes"]; done {
		return fmt.Errorf("zero-shot head: the graph has one already")
	}
	k := len(h.Classes)
	wt := make([]float32, d*k) // [D, K]: the class embeddings as columns
	for c, row := range h.Classes {
		if len(row) != d {
			return fmt.Errorf("zero-shot head: class %d embedding has %d dimensions, class 0 %d", c, len(row), d)
		}
		for j, v := range row {
			wt[j*k+c] = v
		}
	}
	ones := make([]float32, d)
	for i := range ones {
		ones[i] = 1
	}
	p := func(s string) string { return zeroShotPrefix + s }
	var nodes []*message
	node := func(op string, ins []string, out string, attrs ...*message) string {
		nodes = append(nodes, nodeMessage(p(out), op, ins, []string{p(out)}, attrs...))
		return p(out)
	}
	e := emb
	if out.ElemType != Float32 {
		if !out.ElemType.IsFloat() {
			return fmt.Errorf("zero-shot head: the embedding %q is %s, not floating point", emb, out.ElemType)
		}
		e = node("Cast", []string{emb}, "embedding_float32", intAttr("to", int64(Float32)))
	}
	for _, c := range []struct {
		name string
		dims []int64
		vals []float32
	}{{"ones", []int64{int64(d), 1}, ones}, {"classes", []int64{int64(d), int64(k)}, wt},
		{"eps", nil, []float32{1e-20}}, {"scale", nil, []float32{h.Scale}}} {
		if err := m.addFloats(p(c.name), c.dims, c.vals); err != nil {
			return fmt.Errorf("zero-shot head: %w", err)
		}
	}
	ss := node("MatMul", []string{node("Mul", []string{e, e}, "square"), p("ones")}, "sum_square")
	norm := node("Sqrt", []string{node("Add", []string{ss, p("eps")}, "sum_square_eps")}, "norm")
	unit := node("Div", []string{e, norm}, "unit")
	scores := node("Mul", []string{node("MatMul", []string{unit, p("classes")}, "cosine"), p("scale")}, "logits")
	width := int64(k)
	if len(h.Categories) > 0 {
		agg := make([]float32, k*len(h.Categories)) // [K, C]: 1/|category| where the class belongs
		for c, idx := range h.Categories {
			if len(idx) == 0 {
				return fmt.Errorf("zero-shot head: category %d has no classes", c)
			}
			for _, i := range idx {
				if i < 0 || i >= k {
					return fmt.Errorf("zero-shot head: category %d names class %d of %d", c, i, k)
				}
				agg[i*len(h.Categories)+c] += 1 / float32(len(idx))
			}
		}
		if err := m.addFloats(p("categories"), []int64{int64(k), int64(len(h.Categories))}, agg); err != nil {
			return fmt.Errorf("zero-shot head: %w", err)
		}
		prob := node("Softmax", []string{scores}, "softmax", intAttr("axis", 1))
		scores = node("MatMul", []string{prob, p("categories")}, "category_probabilities")
		width = int64(len(h.Categories))
	}
	nodes = append(nodes, nodeMessage(p("output"), "Identity", []string{scores}, []string{ZeroShotOutput}))
	for _, n := range nodes {
		m.graph.add(messageField(graphNode, n))
	}
	batch := Dim{Param: "N"}
	if len(out.Dims) == 2 && (out.Dims[0].Param != "" || out.Dims[0].Value > 0) {
		batch = out.Dims[0]
	}
	m.graph.remove(graphOutput)
	m.graph.add(messageField(graphOutput, valueInfoMessage(ZeroShotOutput, Float32, []Dim{batch, {Value: width}})))
	return nil
}

// addFloats adds a float32 initializer.
func (m *Model) addFloats(name string, dims []int64, vals []float32) error {
	if _, dup := m.inits[name]; dup {
		return fmt.Errorf("initializer %q exists", name)
	}
	for _, v := range vals {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("initializer %q: non-finite value", name)
		}
	}
	t, err := tensorMessage(name, Float32, dims, vals)
	if err != nil {
		return err
	}
	m.graph.add(messageField(graphInitializer, t))
	m.inits[name] = t
	m.names = append(m.names, name)
	return nil
}

// addInts adds an int64 initializer and returns its name.
func (m *Model) addInts(name string, dims []int64, vals ...int64) string {
	b := &gradBuilder{}
	b.ints(dims, vals...)
	t := b.inits[0]
	t.set(stringField(tensorName, name))
	m.graph.add(messageField(graphInitializer, t))
	m.inits[name] = t
	m.names = append(m.names, name)
	return name
}

// KeepPath cuts the graph down to the part that computes output from input: the nodes output
// depends on, input as the only graph input and output as the only graph output (one tower of a
// file that holds both towers of a CLIP model, say). A kept node that reads another graph input is
// an error. Initializers are kept (the runtime ignores unused ones). Nodes with subgraphs are kept
// whole, but what their subgraphs read from the outer graph is not followed.
func (m *Model) KeepPath(input, output string) error {
	if !slices.Contains(m.inputNames(), input) {
		return fmt.Errorf("keep %s → %s: %q is not a graph input (inputs: %v)", input, output, input, m.inputNames())
	}
	nodes, err := m.nodes()
	if err != nil {
		return fmt.Errorf("keep %s → %s: %w", input, output, err)
	}
	producer := map[string]*message{}
	for _, n := range nodes {
		for _, o := range n.strs(nodeOutput) {
			producer[o] = n
		}
	}
	if _, ok := producer[output]; !ok {
		return fmt.Errorf("keep %s → %s: no node produces %q", input, output, output)
	}
	inputs := map[string]bool{}
	for _, name := range m.inputNames() {
		if _, init := m.inits[name]; !init {
			inputs[name] = true
		}
	}
	keep := map[*message]bool{}
	stack := []string{output}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if inputs[t] && t != input {
			return fmt.Errorf("keep %s → %s: %q depends on the graph input %q as well", input, output, output, t)
		}
		n := producer[t]
		if n == nil || keep[n] {
			continue
		}
		keep[n] = true
		for _, in := range n.strs(nodeInput) {
			if in != "" {
				stack = append(stack, in)
			}
		}
	}
	var keptOut *message
	for _, vi := range mustChildren(m.graph, graphOutput) {
		if vi.str(valueInfoName) == output {
			keptOut = vi
		}
	}
	if err := m.graph.removeIf(graphNode, func(n *message) bool { return !keep[n] }); err != nil {
		return fmt.Errorf("keep %s → %s: %w", input, output, err)
	}
	if err := m.graph.removeIf(graphInput, func(vi *message) bool {
		name := vi.str(valueInfoName)
		return name != input && inputs[name]
	}); err != nil {
		return fmt.Errorf("keep %s → %s: %w", input, output, err)
	}
	m.graph.remove(graphOutput)
	if keptOut != nil {
		m.graph.add(messageField(graphOutput, keptOut))
	} else {
		dt := m.traceType(output, map[string]bool{})
		if dt == Undefined {
			dt = m.floatType()
		}
		m.graph.add(messageField(graphOutput, valueInfoMessage(output, dt, nil)))
	}
	return nil
}

// mustChildren is children of a message Parse has decoded already.
func mustChildren(m *message, num protowire.Number) []*message {
	subs, _ := m.children(num)
	return subs
}
