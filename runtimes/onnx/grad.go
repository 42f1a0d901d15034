package onnx

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Names of the tensors a gradient model adds to the classifier's image input.
const (
	GradientLabel  = "label"          // int64 [N]: the class whose loss is differentiated
	GradientLogits = "vistudy_logits" // float32 [N, K]: the logits, flattened after the batch dimension
	GradientLoss   = "vistudy_loss"   // float32 [N]: the per-sample loss
	GradientOutput = "vistudy_grad"   // float32, shaped like the image input: d loss / d input
)

// Losses a gradient model differentiates.
const (
	LossCrossEntropy = "cross_entropy" // −log softmax(z)_y: attacks ascend it
	LossMargin       = "margin"        // z_y − max_{k≠y} z_k: attacks descend it (≤ 0 is misclassified)
)

// gradientOpset is the operator set a gradient model imports: ScatterElements with reduction
// (16) carries MaxPool's gradient; older models' nodes are converted to it.
const gradientOpset = 17

// GradientOptions chooses what a gradient model differentiates.
type GradientOptions struct {
	Output        string // tensor holding the class scores; "" is the graph's first output
	Probabilities bool   // Output holds probabilities: the loss uses their logarithm as logits
	Loss          string // LossCrossEntropy ("" too) or LossMargin
}

// CheckGradient reports whether GradientModel can differentiate the model at path (first input
// to first output): an error names the first op on the input's path without a gradient rule.
// It opens the model and walks its graph, without building anything or starting a runtime.
func CheckGradient(path string) error { return CheckGradientWith(path, GradientOptions{}) }

// CheckGradientWith is CheckGradient for the score tensor and loss of opts (a model's
// output_tensor, say), as GradientModel would build them.
func CheckGradientWith(path string, opts GradientOptions) error {
	m, err := Open(path)
	if err != nil {
		return err
	}
	defer m.Close()
	if _, err := m.analyse(opts); err != nil {
		return fmt.Errorf("gradient of %s: %w", path, err)
	}
	return nil
}

// GradientModel returns an ONNX model that computes, besides the logits, the gradient of a
// per-sample loss with respect to the model's (first) image input. It has inputs image (the
// original input name, float32, batch dimension symbolic) and GradientLabel, and outputs
// GradientLogits, GradientLoss and GradientOutput. The gradient is with respect to the graph
// input itself: a caller feeding mapped pixels ((x·scale − mean)/std) applies that chain rule.
//
// The whole graph computes in float32 (float16, bfloat16 and float64 weights are widened), at
// opset 17; nodes of older operator sets are converted. Only the nodes the scores depend on are
// kept. Each sample's gradient is that of its own loss. m is not modified.
func (m *Model) GradientModel(opts GradientOptions) ([]byte, error) {
	a, err := m.analyse(opts)
	if err != nil {
		return nil, fmt.Errorf("gradient model: %w", err)
	}
	// ONNX Runtime's CPU Conv has float32 kernels only, so float32 it is (not float64)
	b := &gradBuilder{m: m, a: a, grads: map[string][]string{}, dt: Float32}
	if err := b.build(opts); err != nil {
		return nil, fmt.Errorf("gradient model: %w", err)
	}
	out, err := b.encode()
	if err != nil {
		return nil, fmt.Errorf("gradient model: %w", err)
	}
	return out, nil
}

// analysis is the part of the graph a gradient model keeps.
type analysis struct {
	input  ValueInfo
	output string
	nodes  []*message      // ancestors of output, topological order
	active map[string]bool // tensors that depend on the input through differentiable inputs
}

// nonDifferentiable ops have outputs that do not carry gradient even from an active input.
var nonDifferentiable = map[string]bool{
	"Shape": true, "Size": true, "ArgMax": true, "ArgMin": true, "NonZero": true, "Equal": true,
	"Less": true, "Greater": true, "LessOrEqual": true, "GreaterOrEqual": true, "Not": true,
	"And": true, "Or": true, "Xor": true, "IsNaN": true, "IsInf": true, "Sign": true,
	"Floor": true, "Ceil": true, "Round": true, "ConstantOfShape": true, "EyeLike": true,
}

// diffInputs lists the input positions of op that carry gradient (nil: every input); ops absent
// here have no gradient rule.
var diffInputs = map[string][]int{
	"Conv": {0, 1}, "Gemm": {0, 1, 2}, "MatMul": {0, 1}, "BatchNormalization": {0},
	"Add": nil, "Sub": nil, "Mul": nil, "Div": nil, "Sum": nil,
	"Relu": nil, "LeakyRelu": nil, "Clip": {0}, "Sigmoid": nil, "HardSigmoid": nil, "HardSwish": nil,
	"Tanh": nil, "Neg": nil, "Identity": nil, "Dropout": {0}, "Cast": {0},
	"MaxPool": {0}, "AveragePool": {0}, "GlobalAveragePool": {0}, "Concat": nil,
	"Flatten": {0}, "Reshape": {0}, "Squeeze": {0}, "Unsqueeze": {0}, "Transpose": {0}, "Pad": {0},
	"Softmax": {0}, "LogSoftmax": {0}, "Slice": {0}, "Sqrt": nil,
}

// supportedOnlyAt lists inputs that must not depend on the image (weights computed from it).
var constantOnly = map[string][]int{"Conv": {1}, "Gemm": {1}, "MatMul": {1}}

// analyse finds the input, the score tensor, the nodes it depends on and the active tensors, and
// refuses an active node without a gradient rule.
func (m *Model) analyse(opts GradientOptions) (*analysis, error) {
	ins := m.Inputs()
	if len(ins) == 0 {
		return nil, fmt.Errorf("the graph has no input")
	}
	a := &analysis{input: ins[0], output: opts.Output, active: map[string]bool{ins[0].Name: true}}
	if !a.input.ElemType.IsFloat() {
		return nil, fmt.Errorf("input %q is %s, not a floating-point tensor", a.input.Name, a.input.ElemType)
	}
	if a.output == "" {
		outs := m.Outputs()
		if len(outs) == 0 {
			return nil, fmt.Errorf("the graph has no output")
		}
		a.output = outs[0].Name
	}
	switch opts.Loss {
	case "", LossCrossEntropy, LossMargin:
	default:
		return nil, fmt.Errorf("loss %q: want %s or %s", opts.Loss, LossCrossEntropy, LossMargin)
	}
	nodes, err := m.nodes()
	if err != nil {
		return nil, err
	}
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.strs(nodeOutput) {
			producer[o] = i
		}
	}
	if _, ok := producer[a.output]; !ok {
		return nil, fmt.Errorf("no node produces the score tensor %q", a.output)
	}
	var missing unsupported
	keep := make([]bool, len(nodes))
	stack := []string{a.output}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, ok := producer[t]
		if !ok || keep[i] {
			continue
		}
		keep[i] = true
		for _, in := range nodes[i].strs(nodeInput) {
			if in != "" {
				stack = append(stack, in)
			}
		}
	}
	for i, n := range nodes {
		if !keep[i] {
			continue
		}
		a.nodes = append(a.nodes, n)
		op, in := n.str(nodeOpType), n.strs(nodeInput)
		if d := n.str(nodeDomain); d != "" && d != "ai.onnx" {
			if anyActive(a.active, in) {
				missing.note(d+"."+op, n.str(nodeName))
				a.active[n.strs(nodeOutput)[0]] = true
			}
			continue
		}
		if nonDifferentiable[op] || (op == "Cast" && !DType(attrInt(n, "to", 0)).IsFloat()) {
			continue
		}
		pos, ok := diffInputs[op]
		if !ok {
			if anyActive(a.active, in) {
				missing.note(op, n.str(nodeName))
				a.active[n.strs(nodeOutput)[0]] = true // to find what else lies on the path
			}
			continue
		}
		for _, p := range constantOnly[op] {
			if p < len(in) && a.active[in[p]] {
				return nil, fmt.Errorf("op %s (node %q): input %d (%q) depends on the image; only constant weights are differentiated through",
					op, n.str(nodeName), p, in[p])
			}
		}
		live := false
		for j, x := range in {
			if a.active[x] && (pos == nil || slices.Contains(pos, j)) {
				live = true
			}
		}
		if live {
			outs := n.strs(nodeOutput)
			a.active[outs[0]] = true
			if op == "Dropout" && len(outs) > 1 && outs[1] != "" {
				// the mask output is not differentiable
				continue
			}
		}
	}
	if err := missing.err(); err != nil {
		return nil, err
	}
	if !a.active[a.output] {
		return nil, fmt.Errorf("the score tensor %q does not depend on the input %q", a.output, a.input.Name)
	}
	return a, nil
}

// unsupported collects the ops on the input's path that have no gradient rule.
type unsupported struct {
	ops   []string
	first map[string]string
	count map[string]int
}

func (u *unsupported) note(op, node string) {
	if u.count == nil {
		u.first, u.count = map[string]string{}, map[string]int{}
	}
	if u.count[op] == 0 {
		u.ops = append(u.ops, op)
		u.first[op] = node
	}
	u.count[op]++
}

// err names every op without a rule, its first node and how many nodes use it; nil when none.
func (u *unsupported) err() error {
	if len(u.ops) == 0 {
		return nil
	}
	parts := make([]string, len(u.ops))
	for i, op := range u.ops {
		parts[i] = fmt.Sprintf("op %s (node %q", op, u.first[op])
		if c := u.count[op]; c > 1 {
			parts[i] += fmt.Sprintf(" and %d more", c-1)
		}
		parts[i] += ")"
	}
	return fmt.Errorf("no gradient rule for %s", strings.Join(parts, ", "))
}

// markActive recomputes the active tensors over the converted forward nodes, whose conversions
// may have added intermediate tensors.
func (b *gradBuilder) markActive(nodes []*message) {
	for _, n := range nodes {
		op, in := n.str(nodeOpType), n.strs(nodeInput)
		if nonDifferentiable[op] || (op == "Cast" && !DType(attrInt(n, "to", 0)).IsFloat()) {
			continue
		}
		pos := diffInputs[op]
		for j, x := range in {
			if b.a.active[x] && (pos == nil || slices.Contains(pos, j)) {
				b.a.active[n.strs(nodeOutput)[0]] = true
			}
		}
	}
}

func anyActive(active map[string]bool, names []string) bool {
	for _, n := range names {
		if active[n] {
			return true
		}
	}
	return false
}

// gradBuilder emits the gradient model.
type gradBuilder struct {
	m     *Model
	a     *analysis
	opset int64
	dt    DType      // the type everything computes in
	nodes []*message // forward (converted) then backward nodes
	inits []*message // new constant tensors
	seq   int
	grads map[string][]string // tensor → gradient contributions not yet summed
}

// name returns a fresh tensor name.
func (b *gradBuilder) name(hint string) string {
	b.seq++
	return fmt.Sprintf("vistudy_grad/%s_%d", hint, b.seq)
}

// op appends a node with one output and returns the output's name.
func (b *gradBuilder) op(op string, ins []string, attrs ...*message) string {
	out := b.name(op)
	b.nodes = append(b.nodes, nodeMessage(out, op, ins, []string{out}, attrs...))
	return out
}

// opN appends a node with n outputs.
func (b *gradBuilder) opN(op string, ins []string, n int, attrs ...*message) []string {
	outs := make([]string, n)
	for i := range outs {
		outs[i] = b.name(op)
	}
	b.nodes = append(b.nodes, nodeMessage(outs[0], op, ins, outs, attrs...))
	return outs
}

// ints adds an int64 constant and returns its name.
func (b *gradBuilder) ints(dims []int64, vals ...int64) string {
	name := b.name("const")
	raw := make([]byte, 0, 8*len(vals))
	for _, v := range vals {
		raw = protowire.AppendFixed64(raw, uint64(v))
	}
	b.inits = append(b.inits, newMessage(packedVarints(tensorDims, dims), varintField(tensorDataType, int64(Int64)),
		stringField(tensorName, name), bytesField(tensorRawData, raw)))
	return name
}

// vec adds a 1-D int64 constant.
func (b *gradBuilder) vec(vals ...int64) string { return b.ints([]int64{int64(len(vals))}, vals...) }

// scalar adds a float32 scalar constant.
func (b *gradBuilder) scalar(v float32) string {
	name := b.name("const")
	t, _ := tensorMessage(name, b.dt, nil, []float32{v})
	b.inits = append(b.inits, t)
	return name
}

// floats adds a float32 constant.
func (b *gradBuilder) floats(dims []int64, vals []float32) string {
	name := b.name("const")
	t, _ := tensorMessage(name, b.dt, dims, vals)
	b.inits = append(b.inits, t)
	return name
}

// zeros is a tensor of the compute type filled with 0, of the shape held by the tensor shape.
func (b *gradBuilder) zeros(shape string) string {
	t, _ := tensorMessage(b.name("zero"), b.dt, []int64{1}, []float32{0})
	return b.op("ConstantOfShape", []string{shape}, tensorAttr("value", t))
}

// add records a gradient contribution g for tensor t.
func (b *gradBuilder) add(t, g string) { b.grads[t] = append(b.grads[t], g) }

// grad sums the contributions to t ("" when none).
func (b *gradBuilder) grad(t string) string {
	gs := b.grads[t]
	switch len(gs) {
	case 0:
		return ""
	case 1:
		return gs[0]
	}
	s := b.op("Sum", gs)
	b.grads[t] = []string{s}
	return s
}

// build emits the converted forward graph, the loss and the backward pass.
func (b *gradBuilder) build(opts GradientOptions) error {
	b.opset = b.m.OpsetVersion()
	for _, n := range b.a.nodes {
		if err := b.forward(n); err != nil {
			return fmt.Errorf("node %q (%s): %w", n.str(nodeName), n.str(nodeOpType), err)
		}
	}
	forward := len(b.nodes)
	b.markActive(b.nodes[:forward])
	z := b.op("Flatten", []string{b.a.output}, intAttr("axis", 1))
	if opts.Probabilities {
		z = b.op("Log", []string{b.op("Max", []string{z, b.scalar(math.SmallestNonzeroFloat32)})})
	}
	b.nodes = append(b.nodes, nodeMessage("vistudy_logits", "Identity", []string{z}, []string{GradientLogits}))
	k := b.op("Gather", []string{b.op("Shape", []string{z}), b.vec(1)})
	onehot := b.op("OneHot", []string{GradientLabel, k, b.floats([]int64{2}, []float32{0, 1})}, intAttr("axis", -1))
	var loss, dz string
	if opts.Loss == LossMargin {
		mask := b.op("Cast", []string{onehot}, intAttr("to", int64(Bool)))
		other := b.op("Where", []string{mask, b.scalar(-math.MaxFloat32), z})
		zy := b.op("ReduceSum", []string{b.op("Mul", []string{z, onehot}), b.vec(1)}, intAttr("keepdims", 0))
		best := b.op("ReduceMax", []string{other}, intsAttr("axes", 1), intAttr("keepdims", 0))
		loss = b.op("Sub", []string{zy, best})
		j := b.op("ArgMax", []string{other}, intAttr("axis", 1), intAttr("keepdims", 0))
		dz = b.op("Sub", []string{onehot, b.op("OneHot", []string{j, k, b.floats([]int64{2}, []float32{0, 1})}, intAttr("axis", -1))})
	} else {
		ls := b.op("LogSoftmax", []string{z}, intAttr("axis", 1))
		loss = b.op("Neg", []string{b.op("ReduceSum", []string{b.op("Mul", []string{ls, onehot}), b.vec(1)}, intAttr("keepdims", 0))})
		dz = b.op("Sub", []string{b.op("Exp", []string{ls}), onehot})
	}
	b.nodes = append(b.nodes, nodeMessage("vistudy_loss", "Identity", []string{loss}, []string{GradientLoss}))
	if opts.Probabilities {
		// z = log(max(p, tiny)): dz/dp = 1/p
		p := b.op("Flatten", []string{b.a.output}, intAttr("axis", 1))
		dz = b.op("Div", []string{dz, b.op("Max", []string{p, b.scalar(math.SmallestNonzeroFloat32)})})
	}
	b.add(b.a.output, b.op("Reshape", []string{dz, b.op("Shape", []string{b.a.output})}))
	fw := b.nodes[:forward:forward]
	for i := len(fw) - 1; i >= 0; i-- {
		n := fw[i]
		outs := n.strs(nodeOutput)
		if len(outs) == 0 || !b.a.active[outs[0]] {
			continue
		}
		dy := b.grad(outs[0])
		if dy == "" {
			continue
		}
		if err := b.backward(n, dy); err != nil {
			return fmt.Errorf("gradient of node %q (%s): %w", n.str(nodeName), n.str(nodeOpType), err)
		}
	}
	g := b.grad(b.a.input.Name)
	if g == "" {
		return fmt.Errorf("no gradient reaches the input %q", b.a.input.Name)
	}
	b.nodes = append(b.nodes, nodeMessage("vistudy_grad", "Identity", []string{g}, []string{GradientOutput}))
	return nil
}

// encode assembles the ModelProto: IR 8, opset 17, float32 initializers, no value_info.
func (b *gradBuilder) encode() ([]byte, error) {
	graph := newMessage(stringField(graphName, "vistudy_gradient"))
	for _, n := range b.nodes {
		graph.fields = append(graph.fields, messageField(graphNode, n))
	}
	for _, name := range b.m.names {
		t := b.m.inits[name]
		info, _ := tensorHeader(t)
		if info.DType.IsFloat() && info.DType != b.dt {
			vals, err := b.m.decodeFloats(t, info)
			if err != nil {
				return nil, fmt.Errorf("initializer %q: %w", name, err)
			}
			if t, err = tensorMessage(name, b.dt, info.Dims, vals); err != nil {
				return nil, err
			}
		} else if isExternal(t) {
			return nil, fmt.Errorf("initializer %q keeps its data in an external file; gradients of such models are not built", name)
		}
		graph.fields = append(graph.fields, messageField(graphInitializer, t))
	}
	for _, t := range b.inits {
		graph.fields = append(graph.fields, messageField(graphInitializer, t))
	}
	dims := slices.Clone(b.a.input.Dims)
	if len(dims) > 0 {
		dims[0] = Dim{Param: "N"}
	}
	n := Dim{Param: "N"}
	graph.fields = append(graph.fields,
		messageField(graphInput, valueInfoMessage(b.a.input.Name, b.dt, dims)),
		messageField(graphInput, valueInfoMessage(GradientLabel, Int64, []Dim{n})),
		messageField(graphOutput, valueInfoMessage(GradientLogits, b.dt, []Dim{n, {Value: -1}})),
		messageField(graphOutput, valueInfoMessage(GradientLoss, b.dt, []Dim{n})),
		messageField(graphOutput, valueInfoMessage(GradientOutput, b.dt, dims)),
	)
	root := newMessage(varintField(modelIRVersion, 8), messageField(modelGraph, graph),
		messageField(modelOpsetImport, newMessage(varintField(opsetVersion, gradientOpset))))
	return root.marshal()
}

// attrs of node n by name.
func nodeAttrs(n *message) map[string]*message {
	subs, _ := n.children(nodeAttribute) // decoded by Parse
	out := map[string]*message{}
	for _, a := range subs {
		out[a.str(attrName)] = a
	}
	return out
}

// AttributeProto fields and types beyond those proto.go lists.
const (
	attrF          protowire.Number = 2 // optional float f = 2
	attrS          protowire.Number = 4 // optional bytes s = 4
	attrT          protowire.Number = 5 // optional TensorProto t = 5
	attrFloats     protowire.Number = 7 // repeated float floats = 7
	attrTypeFloat  int64            = 1
	attrTypeString int64            = 3
	attrTypeTensor int64            = 4
)

// attrIntsOf returns the INTS attribute name of n, nil when absent.
func attrIntsOf(n *message, name string) []int64 {
	a := nodeAttrs(n)[name]
	if a == nil {
		return nil
	}
	v, _ := a.varints(attrInts)
	return v
}

// attrFloatOf returns the FLOAT attribute name of n, def when absent.
func attrFloatOf(n *message, name string, def float32) float32 {
	a := nodeAttrs(n)[name]
	if a == nil {
		return def
	}
	if i := a.last(attrF); i >= 0 && a.fields[i].typ == protowire.Fixed32Type {
		return math.Float32frombits(uint32(a.fields[i].u))
	}
	return def
}

// attrStringOf returns the STRING attribute name of n, def when absent.
func attrStringOf(n *message, name, def string) string {
	a := nodeAttrs(n)[name]
	if a == nil || !a.has(attrS) {
		return def
	}
	return a.str(attrS)
}

func floatAttr(name string, v float32) *message {
	return newMessage(stringField(attrName, name),
		field{num: attrF, typ: protowire.Fixed32Type, u: uint64(math.Float32bits(v)),
			enc: protowire.AppendFixed32(protowire.AppendTag(nil, attrF, protowire.Fixed32Type), math.Float32bits(v))},
		varintField(attrType, attrTypeFloat))
}

func stringAttr(name, v string) *message {
	return newMessage(stringField(attrName, name), stringField(attrS, v), varintField(attrType, attrTypeString))
}

func tensorAttr(name string, t *message) *message {
	return newMessage(stringField(attrName, name), messageField(attrT, t), varintField(attrType, attrTypeTensor))
}

// cloneNode builds a node like n (name, op, domain, attributes except those in drop) with new inputs and outputs.
func cloneNode(n *message, op string, ins, outs []string, drop ...string) *message {
	c := nodeMessage(n.str(nodeName), op, ins, outs)
	subs, _ := n.children(nodeAttribute) // decoded by Parse
	for _, a := range subs {
		if slices.Contains(drop, a.str(attrName)) {
			continue
		}
		c.fields = append(c.fields, messageField(nodeAttribute, a))
	}
	return c
}

// forward appends n converted to opset 17 and to float32.
func (b *gradBuilder) forward(n *message) error {
	op, in, out := n.str(nodeOpType), n.strs(nodeInput), n.strs(nodeOutput)
	v := b.opset
	emit := func(c *message) { b.nodes = append(b.nodes, c) }
	switch {
	case op == "Dropout":
		emit(nodeMessage(n.str(nodeName), "Identity", in[:1], out[:1]))
		return nil
	case op == "Cast":
		if to := DType(attrInt(n, "to", 0)); to.IsFloat() {
			emit(cloneNode(n, op, in, out, "to", "saturate"))
			b.nodes[len(b.nodes)-1].fields = append(b.nodes[len(b.nodes)-1].fields, messageField(nodeAttribute, intAttr("to", int64(b.dt))))
			return nil
		}
	case op == "Constant":
		a := nodeAttrs(n)["value"]
		if a == nil {
			break
		}
		t, err := a.lastChild(attrT)
		if err != nil || t == nil {
			return fmt.Errorf("constant value: %v", err)
		}
		info, err := tensorHeader(t)
		if err != nil {
			return err
		}
		if info.DType.IsFloat() && info.DType != b.dt {
			vals, err := b.m.decodeFloats(t, info)
			if err != nil {
				return err
			}
			t32, err := tensorMessage(info.Name, b.dt, info.Dims, vals)
			if err != nil {
				return err
			}
			emit(nodeMessage(n.str(nodeName), "Constant", nil, out, tensorAttr("value", t32)))
			return nil
		}
	case op == "MaxPool":
		if attrInt(n, "storage_order", 0) != 0 {
			return fmt.Errorf("MaxPool with storage_order 1 is not supported")
		}
		idx := b.name("maxpool_indices")
		emit(cloneNode(n, op, in, []string{out[0], idx}))
		b.grads["\x00idx:"+out[0]] = []string{idx}
		return nil
	case (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") && v < 13:
		if axes := attrIntsOf(n, "axes"); axes != nil {
			emit(cloneNode(n, op, []string{in[0], b.vec(axes...)}, out, "axes"))
			return nil
		}
	case op == "Clip" && v < 11:
		lo := b.scalar(attrFloatOf(n, "min", -math.MaxFloat32))
		hi := b.scalar(attrFloatOf(n, "max", math.MaxFloat32))
		emit(cloneNode(n, op, []string{in[0], lo, hi}, out, "min", "max"))
		return nil
	case op == "Pad" && v < 11:
		pads := attrIntsOf(n, "pads")
		if pads == nil {
			pads = attrIntsOf(n, "paddings")
		}
		ins := []string{in[0], b.vec(pads...), b.scalar(attrFloatOf(n, "value", 0))}
		emit(cloneNode(n, op, ins, out, "pads", "paddings", "value"))
		return nil
	case (op == "Softmax" || op == "LogSoftmax") && v < 13:
		// opsets < 13 flatten to 2-D at axis; express that at opset 17
		axis := attrInt(n, "axis", 1)
		flat := b.op("Flatten", in[:1], intAttr("axis", axis))
		s := b.op(op, []string{flat}, intAttr("axis", -1))
		emit(nodeMessage(n.str(nodeName), "Reshape", []string{s, b.op("Shape", in[:1])}, out))
		return nil
	case op == "BatchNormalization":
		emit(cloneNode(n, op, in, out[:1], "spatial", "is_test", "consumed_inputs", "momentum", "training_mode"))
		return nil
	case op == "Concat" && v < 4:
		if nodeAttrs(n)["axis"] == nil {
			c := cloneNode(n, op, in, out)
			c.fields = append(c.fields, messageField(nodeAttribute, intAttr("axis", 1)))
			emit(c)
			return nil
		}
	case (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Gemm") && v < 7:
		if nodeAttrs(n)["broadcast"] != nil {
			return fmt.Errorf("opset %d broadcast attribute is not supported", v)
		}
	case op == "Slice" && v < 10:
		starts, ends := attrIntsOf(n, "starts"), attrIntsOf(n, "ends")
		ins := []string{in[0], b.vec(starts...), b.vec(ends...)}
		if axes := attrIntsOf(n, "axes"); axes != nil {
			ins = append(ins, b.vec(axes...))
		}
		emit(cloneNode(n, op, ins, out, "starts", "ends", "axes"))
		return nil
	case op == "Reshape" && v < 5, op == "Split" && v < 13, op == "Upsample":
		if anyActive(b.a.active, in) {
			return fmt.Errorf("%s of opset %d is not converted", op, v)
		}
	}
	// everything else is the same at opset 17 (or not on the gradient's path)
	c := cloneNode(n, op, in, out)
	if d := n.str(nodeDomain); d != "" {
		c.fields = append(c.fields, stringField(nodeDomain, d))
	}
	emit(c)
	return nil
}

// unbroadcast sums g (shaped like y) down to the shape of x, which was broadcast into y.
func (b *gradBuilder) unbroadcast(g, x string) string {
	sx := b.op("Shape", []string{x})
	sy := b.op("Shape", []string{g})
	diff := b.op("Sub", []string{b.op("Shape", []string{sy}), b.op("Shape", []string{sx})})
	one := b.name("const")
	t := newMessage(packedVarints(tensorDims, []int64{1}), varintField(tensorDataType, int64(Int64)),
		stringField(tensorName, one), bytesField(tensorRawData, protowire.AppendFixed64(nil, 1)))
	ones := b.op("ConstantOfShape", []string{diff}, tensorAttr("value", t))
	px := b.op("Concat", []string{ones, sx}, intAttr("axis", 0))
	c1 := b.vec(1)
	mask := b.op("And", []string{b.op("Equal", []string{px, c1}), b.op("Not", []string{b.op("Equal", []string{sy, c1})})})
	axes := b.op("Reshape", []string{b.op("NonZero", []string{mask}), b.vec(-1)})
	r := b.op("ReduceSum", []string{g, axes}, intAttr("keepdims", 1), intAttr("noop_with_empty_axes", 1))
	return b.op("Reshape", []string{r, sx})
}

// spatialSlice crops full (a transposed convolution's output) to x's spatial extent from begin.
func (b *gradBuilder) spatialSlice(full, x string, rank int, begin string) string {
	sx := b.op("Shape", []string{x})
	hw := b.op("Slice", []string{sx, b.vec(2), b.vec(int64(2 + rank))})
	axes := make([]int64, rank)
	for i := range axes {
		axes[i] = int64(2 + i)
	}
	return b.op("Slice", []string{full, begin, b.op("Add", []string{begin, hw}), b.vec(axes...)})
}

// windowBegin is the padding before each spatial axis of a Conv/pool node (a tensor), for
// explicit pads or auto_pad computed from x's size.
func (b *gradBuilder) windowBegin(n *message, x string, kernel, strides, dilations []int64) (string, error) {
	r := len(kernel)
	switch ap := attrStringOf(n, "auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		pads := attrIntsOf(n, "pads")
		if pads == nil {
			pads = make([]int64, 2*r)
		}
		return b.vec(pads[:r]...), nil
	case "VALID":
		return b.vec(make([]int64, r)...), nil
	case "SAME_UPPER", "SAME_LOWER":
		// total = max(0, (ceil(H/s)−1)·s + (k−1)·d + 1 − H); before = total/2 (UPPER) or (total+1)/2 (LOWER)
		ke := make([]int64, r)
		for i := range ke {
			ke[i] = (kernel[i]-1)*dilations[i] + 1
		}
		h := b.op("Slice", []string{b.op("Shape", []string{x}), b.vec(2), b.vec(int64(2 + r))})
		s := b.vec(strides...)
		ceil := b.op("Div", []string{b.op("Sub", []string{b.op("Add", []string{h, s}), b.vec(slices.Repeat([]int64{1}, r)...)}), s})
		total := b.op("Sub", []string{b.op("Add", []string{b.op("Mul", []string{b.op("Sub", []string{ceil, b.vec(slices.Repeat([]int64{1}, r)...)}), s}), b.vec(ke...)}), h})
		total = b.op("Max", []string{total, b.vec(make([]int64, r)...)})
		if ap == "SAME_LOWER" {
			total = b.op("Add", []string{total, b.vec(slices.Repeat([]int64{1}, r)...)})
		}
		return b.op("Div", []string{total, b.vec(slices.Repeat([]int64{2}, r)...)}), nil
	default:
		return "", fmt.Errorf("auto_pad %q", ap)
	}
}

// windowAttrs reads kernel, strides and dilations of a Conv/pool node with r spatial axes.
func windowAttrs(n *message, kernel []int64) (strides, dilations []int64) {
	r := len(kernel)
	strides, dilations = attrIntsOf(n, "strides"), attrIntsOf(n, "dilations")
	if strides == nil {
		strides = slices.Repeat([]int64{1}, r)
	}
	if dilations == nil {
		dilations = slices.Repeat([]int64{1}, r)
	}
	return strides, dilations
}

// convInputGrad is the gradient of a convolution of x with w (group g) for output gradient dy:
// a transposed convolution without padding, output padding stride−1 so it covers the padded
// input, cropped to x from the padding before.
func (b *gradBuilder) convInputGrad(n *message, dy, w, x string, kernel []int64, group int64) (string, error) {
	strides, dilations := windowAttrs(n, kernel)
	begin, err := b.windowBegin(n, x, kernel, strides, dilations)
	if err != nil {
		return "", err
	}
	outPad := make([]int64, len(kernel))
	for i, s := range strides {
		outPad[i] = s - 1
	}
	full := b.op("ConvTranspose", []string{dy, w}, intsAttr("strides", strides...), intsAttr("dilations", dilations...),
		intAttr("group", group), intsAttr("output_padding", outPad...), intsAttr("kernel_shape", kernel...))
	return b.spatialSlice(full, x, len(kernel), begin), nil
}

// convInputGradStride1 is the gradient of an ungrouped, undilated stride-1 2-D convolution with
// explicit pads p ≤ k−1: a convolution of dy with the flipped, transposed kernel and pads k−1−p,
// which gives x's size exactly. ONNX Runtime runs Conv in its blocked layout, where a transposed
// convolution needs layout reorders around it; most CNN convolutions take this route. ok is false
// for convolutions it does not cover.
func (b *gradBuilder) convInputGradStride1(n *message, dy, w string, kernel []int64) (string, bool) {
	if len(kernel) != 2 || attrInt(n, "group", 1) != 1 {
		return "", false
	}
	if ap := attrStringOf(n, "auto_pad", "NOTSET"); ap != "NOTSET" && ap != "" {
		return "", false
	}
	strides, dilations := windowAttrs(n, kernel)
	for _, v := range append(slices.Clone(strides), dilations...) {
		if v != 1 {
			return "", false
		}
	}
	pads := attrIntsOf(n, "pads")
	if pads == nil {
		pads = make([]int64, 4)
	}
	full := make([]int64, 4)
	for i, p := range pads {
		full[i] = kernel[i%2] - 1 - p
		if full[i] < 0 {
			return "", false
		}
	}
	wt := b.op("Transpose", []string{w}, intsAttr("perm", 1, 0, 2, 3))
	flipped := b.op("Slice", []string{wt, b.vec(-1, -1), b.vec(math.MinInt64, math.MinInt64), b.vec(2, 3), b.vec(-1, -1)})
	return b.op("Conv", []string{dy, flipped}, intsAttr("pads", full...), intsAttr("kernel_shape", kernel...)), true
}

// kernelOf is a Conv node's kernel shape: the attribute, else the weight initializer's dims.
func (b *gradBuilder) kernelOf(n *message, w string) ([]int64, error) {
	if k := attrIntsOf(n, "kernel_shape"); k != nil {
		return k, nil
	}
	if t, ok := b.m.inits[w]; ok {
		info, _ := tensorHeader(t)
		if len(info.Dims) >= 3 {
			return info.Dims[2:], nil
		}
	}
	return nil, fmt.Errorf("kernel shape unknown: no kernel_shape attribute and the weight %q is not an initializer", w)
}

// backward adds the gradient contributions of n's active inputs given dy, the gradient of its first output.
func (b *gradBuilder) backward(n *message, dy string) error {
	op, in, out := n.str(nodeOpType), n.strs(nodeInput), n.strs(nodeOutput)
	x := in[0]
	act := func(i int) bool { return i < len(in) && in[i] != "" && b.a.active[in[i]] }
	y := out[0]
	switch op {
	case "Identity", "Dropout", "Cast":
		b.add(x, dy)
	case "Neg":
		b.add(x, b.op("Neg", []string{dy}))
	case "Relu":
		b.add(x, b.op("Mul", []string{dy, b.op("Cast", []string{b.op("Greater", []string{x, b.scalar(0)})}, intAttr("to", int64(b.dt)))}))
	case "LeakyRelu":
		alpha := attrFloatOf(n, "alpha", 0.01)
		b.add(x, b.op("Where", []string{b.op("Greater", []string{x, b.scalar(0)}), dy, b.op("Mul", []string{dy, b.scalar(alpha)})}))
	case "Clip":
		mask := ""
		for i, cmp := range []string{"Greater", "Less"} {
			if i+1 < len(in) && in[i+1] != "" {
				m := b.op(cmp, []string{x, in[i+1]})
				if mask == "" {
					mask = m
				} else {
					mask = b.op("And", []string{mask, m})
				}
			}
		}
		if mask == "" {
			b.add(x, dy)
		} else {
			b.add(x, b.op("Where", []string{mask, dy, b.scalar(0)}))
		}
	case "Sigmoid":
		b.add(x, b.op("Mul", []string{dy, b.op("Mul", []string{y, b.op("Sub", []string{b.scalar(1), y})})}))
	case "Tanh":
		b.add(x, b.op("Mul", []string{dy, b.op("Sub", []string{b.scalar(1), b.op("Mul", []string{y, y})})}))
	case "Sqrt": // d√x/dx = 1/(2√x)
		b.add(x, b.op("Div", []string{b.op("Mul", []string{dy, b.scalar(0.5)}), y}))
	case "HardSigmoid":
		alpha, beta := attrFloatOf(n, "alpha", 0.2), attrFloatOf(n, "beta", 0.5)
		t := b.op("Add", []string{b.op("Mul", []string{x, b.scalar(alpha)}), b.scalar(beta)})
		inside := b.op("And", []string{b.op("Greater", []string{t, b.scalar(0)}), b.op("Less", []string{t, b.scalar(1)})})
		b.add(x, b.op("Where", []string{inside, b.op("Mul", []string{dy, b.scalar(alpha)}), b.scalar(0)}))
	case "HardSwish":
		// y = x·clip(x/6 + 1/2, 0, 1): dy/dx = 0 below −3, 1 above 3, x/3 + 1/2 between
		mid := b.op("Add", []string{b.op("Div", []string{x, b.scalar(3)}), b.scalar(0.5)})
		d := b.op("Where", []string{b.op("Less", []string{x, b.scalar(-3)}), b.scalar(0),
			b.op("Where", []string{b.op("Greater", []string{x, b.scalar(3)}), b.scalar(1), mid})})
		b.add(x, b.op("Mul", []string{dy, d}))
	case "Add", "Sum":
		for i := range in {
			if act(i) {
				b.add(in[i], b.unbroadcast(dy, in[i]))
			}
		}
	case "Sub":
		if act(0) {
			b.add(in[0], b.unbroadcast(dy, in[0]))
		}
		if act(1) {
			b.add(in[1], b.unbroadcast(b.op("Neg", []string{dy}), in[1]))
		}
	case "Mul":
		if act(0) {
			b.add(in[0], b.unbroadcast(b.op("Mul", []string{dy, in[1]}), in[0]))
		}
		if act(1) {
			b.add(in[1], b.unbroadcast(b.op("Mul", []string{dy, in[0]}), in[1]))
		}
	case "Div":
		if act(0) {
			b.add(in[0], b.unbroadcast(b.op("Div", []string{dy, in[1]}), in[0]))
		}
		if act(1) { // d(a/b)/db = −y/b
			b.add(in[1], b.unbroadcast(b.op("Neg", []string{b.op("Div", []string{b.op("Mul", []string{dy, y}), in[1]})}), in[1]))
		}
	case "Conv":
		kernel, err := b.kernelOf(n, in[1])
		if err != nil {
			return err
		}
		if g, ok := b.convInputGradStride1(n, dy, in[1], kernel); ok {
			b.add(x, g)
			break
		}
		g, err := b.convInputGrad(n, dy, in[1], x, kernel, attrInt(n, "group", 1))
		if err != nil {
			return err
		}
		b.add(x, g)
	case "Gemm":
		alpha, beta := attrFloatOf(n, "alpha", 1), attrFloatOf(n, "beta", 1)
		if act(0) {
			// Y = α·A'·B' (+ β·C): dA' = α·dY·B'^T; A = A'^T when transA
			g := b.op("Gemm", []string{dy, in[1]}, floatAttr("alpha", alpha), intAttr("transB", 1-attrInt(n, "transB", 0)))
			if attrInt(n, "transA", 0) != 0 {
				g = b.op("Transpose", []string{g}, intsAttr("perm", 1, 0))
			}
			b.add(x, g)
		}
		if act(2) {
			b.add(in[2], b.unbroadcast(b.op("Mul", []string{dy, b.scalar(beta)}), in[2]))
		}
	case "MatMul":
		t, ok := b.m.inits[in[1]]
		if !ok {
			return fmt.Errorf("MatMul weight %q is not an initializer", in[1])
		}
		info, _ := tensorHeader(t)
		r := len(info.Dims)
		if r < 2 {
			return fmt.Errorf("MatMul weight %q of rank %d", in[1], r)
		}
		perm := make([]int64, r)
		for i := range perm {
			perm[i] = int64(i)
		}
		perm[r-1], perm[r-2] = perm[r-2], perm[r-1]
		bt := b.op("Transpose", []string{in[1]}, intsAttr("perm", perm...))
		b.add(x, b.unbroadcast(b.op("MatMul", []string{dy, bt}), x))
	case "BatchNormalization":
		eps := attrFloatOf(n, "epsilon", 1e-5)
		k := b.op("Div", []string{in[1], b.op("Sqrt", []string{b.op("Add", []string{in[4], b.scalar(eps)})})})
		b.add(x, b.op("Mul", []string{dy, b.channelwise(k, x)}))
	case "MaxPool":
		idx := b.grads["\x00idx:"+y][0]
		zeros := b.zeros(b.op("Reshape", []string{b.op("Size", []string{x}), b.vec(1)}))
		flat := b.op("ScatterElements", []string{zeros, b.op("Reshape", []string{idx, b.vec(-1)}), b.op("Reshape", []string{dy, b.vec(-1)})},
			intAttr("axis", 0), stringAttr("reduction", "add"))
		b.add(x, b.op("Reshape", []string{flat, b.op("Shape", []string{x})}))
	case "AveragePool":
		g, err := b.avgPoolGrad(n, dy, x)
		if err != nil {
			return err
		}
		b.add(x, g)
	case "GlobalAveragePool":
		hw := b.op("ReduceProd", []string{b.op("Slice", []string{b.op("Shape", []string{x}), b.vec(2), b.vec(math.MaxInt64)})}, intAttr("keepdims", 0))
		hwf := b.op("Cast", []string{hw}, intAttr("to", int64(b.dt)))
		b.add(x, b.op("Div", []string{b.op("Expand", []string{dy, b.op("Shape", []string{x})}), hwf}))
	case "Concat":
		axis := attrInt(n, "axis", 1)
		sizes := make([]string, len(in))
		for i, t := range in {
			sizes[i] = b.op("Gather", []string{b.op("Shape", []string{t}), b.vec(axis)})
		}
		parts := b.opN("Split", []string{dy, b.op("Concat", sizes, intAttr("axis", 0))}, len(in), intAttr("axis", axis))
		for i := range in {
			if act(i) {
				b.add(in[i], parts[i])
			}
		}
	case "Flatten", "Reshape", "Squeeze", "Unsqueeze":
		b.add(x, b.op("Reshape", []string{dy, b.op("Shape", []string{x})}))
	case "Transpose":
		perm := attrIntsOf(n, "perm")
		if perm == nil {
			b.add(x, b.op("Transpose", []string{dy}))
			break
		}
		inv := make([]int64, len(perm))
		for i, p := range perm {
			inv[p] = int64(i)
		}
		b.add(x, b.op("Transpose", []string{dy}, intsAttr("perm", inv...)))
	case "Slice":
		g, err := b.sliceGrad(n, dy, x)
		if err != nil {
			return err
		}
		b.add(x, g)
	case "Pad":
		g, err := b.padGrad(n, dy, x)
		if err != nil {
			return err
		}
		b.add(x, g)
	case "Softmax":
		axis := attrInt(n, "axis", -1)
		s := b.op("ReduceSum", []string{b.op("Mul", []string{dy, y}), b.vec(axis)}, intAttr("keepdims", 1))
		b.add(x, b.op("Mul", []string{y, b.op("Sub", []string{dy, s})}))
	case "LogSoftmax":
		axis := attrInt(n, "axis", -1)
		s := b.op("ReduceSum", []string{dy, b.vec(axis)}, intAttr("keepdims", 1))
		b.add(x, b.op("Sub", []string{dy, b.op("Mul", []string{b.op("Exp", []string{y}), s})}))
	default:
		return fmt.Errorf("op %s has no gradient rule", op)
	}
	return nil
}

// channelwise reshapes the per-channel vector k to broadcast along axis 1 of x: [1, C, 1, …].
func (b *gradBuilder) channelwise(k, x string) string {
	rest := b.op("Sub", []string{b.op("Shape", []string{b.op("Shape", []string{x})}), b.vec(2)})
	one := b.name("const")
	t := newMessage(packedVarints(tensorDims, []int64{1}), varintField(tensorDataType, int64(Int64)),
		stringField(tensorName, one), bytesField(tensorRawData, protowire.AppendFixed64(nil, 1)))
	ones := b.op("ConstantOfShape", []string{rest}, tensorAttr("value", t))
	return b.op("Reshape", []string{k, b.op("Concat", []string{b.vec(1, -1), ones}, intAttr("axis", 0))})
}

// avgPoolGrad spreads dy/count over each window: a transposed convolution with a ones kernel
// on [N·C, 1, …] views; count is the window size, or (count_include_pad 0) its unpadded part.
func (b *gradBuilder) avgPoolGrad(n *message, dy, x string) (string, error) {
	kernel := attrIntsOf(n, "kernel_shape")
	if kernel == nil {
		return "", fmt.Errorf("AveragePool without kernel_shape")
	}
	if attrInt(n, "ceil_mode", 0) != 0 {
		return "", fmt.Errorf("AveragePool with ceil_mode 1 has no gradient rule")
	}
	if attrIntsOf(n, "dilations") != nil {
		return "", fmt.Errorf("AveragePool with dilations has no gradient rule")
	}
	kk := product(kernel)
	view := func(t string) string {
		s := b.op("Shape", []string{t})
		return b.op("Reshape", []string{t, b.op("Concat", []string{b.vec(-1, 1), b.op("Slice", []string{s, b.vec(2), b.vec(math.MaxInt64)})}, intAttr("axis", 0))})
	}
	wdims := append([]int64{1, 1}, kernel...)
	ones := b.floats(wdims, slices.Repeat([]float32{1}, int(kk)))
	xr, dyr := view(x), view(dy)
	padded := attrStringOf(n, "auto_pad", "NOTSET") != "NOTSET" && attrStringOf(n, "auto_pad", "NOTSET") != "VALID"
	for _, p := range attrIntsOf(n, "pads") {
		padded = padded || p != 0
	}
	var q string
	if padded && attrInt(n, "count_include_pad", 0) == 0 {
		one := b.name("const")
		t, _ := tensorMessage(one, b.dt, []int64{1}, []float32{1})
		ox := b.op("ConstantOfShape", []string{b.op("Shape", []string{xr})}, tensorAttr("value", t))
		c := cloneNode(n, "Conv", []string{ox, ones}, []string{b.name("count")}, "count_include_pad", "ceil_mode")
		c.set(stringField(nodeName, c.strs(nodeOutput)[0]))
		b.nodes = append(b.nodes, c)
		q = b.op("Div", []string{dyr, c.strs(nodeOutput)[0]})
	} else {
		q = b.op("Div", []string{dyr, b.scalar(float32(kk))})
	}
	g, err := b.convInputGrad(n, q, ones, xr, kernel, 1)
	if err != nil {
		return "", err
	}
	return b.op("Reshape", []string{g, b.op("Shape", []string{x})}), nil
}

// padGrad: constant padding crops dy back to x; reflect, edge and wrap fold the padded border
// back onto the pixels it copies (a scatter-add per padded axis).
func (b *gradBuilder) padGrad(n *message, dy, x string) (string, error) {
	in := n.strs(nodeInput)
	if len(in) > 3 && in[3] != "" {
		return "", fmt.Errorf("Pad with an axes input has no gradient rule")
	}
	if len(in) < 2 || in[1] == "" {
		return b.op("Identity", []string{dy}), nil
	}
	mode := attrStringOf(n, "mode", "constant")
	halves := b.opN("Split", []string{in[1]}, 2, intAttr("axis", 0))
	begin := halves[0]
	if mode == "constant" {
		return b.op("Slice", []string{dy, begin, b.op("Add", []string{begin, b.op("Shape", []string{x})})}), nil
	}
	pads, ok := b.constInts(in[1])
	if !ok {
		return "", fmt.Errorf("Pad mode %s needs constant pads", mode)
	}
	r := len(pads) / 2
	g := dy
	for axis := r - 1; axis >= 0; axis-- {
		pb, pe := pads[axis], pads[r+axis]
		if pb == 0 && pe == 0 {
			continue
		}
		if pb < 0 || pe < 0 {
			return "", fmt.Errorf("Pad with negative pads has no gradient rule")
		}
		// source index of every padded position j along axis: j − pb mapped into [0, L)
		length := b.op("Gather", []string{b.op("Shape", []string{x}), b.vec(int64(axis))})
		lp := b.op("Gather", []string{b.op("Shape", []string{g}), b.vec(int64(axis))})
		j := b.op("Sub", []string{b.op("Range", []string{b.ints(nil, 0), b.op("Squeeze", []string{lp}), b.ints(nil, 1)}), b.vec(pb)})
		var src string
		last := b.op("Sub", []string{length, b.vec(1)})
		switch mode {
		case "edge":
			src = b.op("Min", []string{b.op("Max", []string{j, b.vec(0)}), last})
		case "reflect":
			a := b.op("Abs", []string{j})
			src = b.op("Sub", []string{last, b.op("Abs", []string{b.op("Sub", []string{last, a})})})
		case "wrap":
			src = b.op("Mod", []string{j, length}) // integer Mod takes the divisor's sign
		default:
			return "", fmt.Errorf("Pad mode %q has no gradient rule", mode)
		}
		// broadcast the index along the other axes: shape [1,…,Lp,…,1] expanded to g
		shape := slices.Repeat([]int64{1}, r)
		shape[axis] = -1
		idx := b.op("Expand", []string{b.op("Reshape", []string{src, b.vec(shape...)}), b.op("Shape", []string{g})})
		xs := b.op("Shape", []string{g})
		zshape := b.op("Concat", []string{
			b.op("Slice", []string{xs, b.vec(0), b.vec(int64(axis))}), length,
			b.op("Slice", []string{xs, b.vec(int64(axis + 1)), b.vec(math.MaxInt64)})}, intAttr("axis", 0))
		zeros := b.zeros(zshape)
		g = b.op("ScatterElements", []string{zeros, idx, g}, intAttr("axis", int64(axis)), stringAttr("reduction", "add"))
	}
	return g, nil
}

// sliceGrad pads dy back to x's shape with zeros: a Slice with constant starts, ends, axes and
// unit steps took x[start:end] along each axis, so the gradient has start zeros before and
// L − end after (negative and out-of-range bounds clamped as Slice does).
func (b *gradBuilder) sliceGrad(n *message, dy, x string) (string, error) {
	in := n.strs(nodeInput)
	starts, ok1 := b.constInts(in[1])
	ends, ok2 := b.constInts(in[2])
	if !ok1 || !ok2 {
		return "", fmt.Errorf("Slice gradient needs constant starts and ends")
	}
	axes := make([]int64, len(starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if len(in) > 3 && in[3] != "" {
		var ok bool
		if axes, ok = b.constInts(in[3]); !ok {
			return "", fmt.Errorf("Slice gradient needs constant axes")
		}
	}
	if len(in) > 4 && in[4] != "" {
		steps, ok := b.constInts(in[4])
		if !ok || slices.ContainsFunc(steps, func(s int64) bool { return s != 1 }) {
			return "", fmt.Errorf("Slice gradient needs unit steps")
		}
	}
	sx := b.op("Shape", []string{x})
	before, after := make([]string, len(axes)), make([]string, len(axes))
	for i, ax := range axes {
		l := b.op("Gather", []string{sx, b.vec(ax)})
		bound := func(v int64) string { // v normalised into [0, L]
			if v < 0 {
				return b.op("Max", []string{b.op("Add", []string{l, b.vec(v)}), b.vec(0)})
			}
			return b.op("Min", []string{b.vec(v), l})
		}
		before[i] = bound(starts[i])
		after[i] = b.op("Sub", []string{l, b.op("Max", []string{bound(ends[i]), before[i]})})
	}
	rank := b.op("Shape", []string{sx})
	zeros := b.op("ConstantOfShape", []string{rank}, tensorAttr("value", newMessage(packedVarints(tensorDims, []int64{1}),
		varintField(tensorDataType, int64(Int64)), stringField(tensorName, b.name("zero")), bytesField(tensorRawData, protowire.AppendFixed64(nil, 0)))))
	ax := b.vec(axes...)
	pb := b.op("ScatterElements", []string{zeros, ax, b.op("Concat", before, intAttr("axis", 0))}, intAttr("axis", 0))
	pe := b.op("ScatterElements", []string{zeros, ax, b.op("Concat", after, intAttr("axis", 0))}, intAttr("axis", 0))
	return b.op("Pad", []string{dy, b.op("Concat", []string{pb, pe}, intAttr("axis", 0))}), nil
}

// constInts returns the values of an int64 initializer or Constant output.
func (b *gradBuilder) constInts(name string) ([]int64, bool) {
	var t *message
	if init, ok := b.m.inits[name]; ok {
		t = init
	} else {
		for _, n := range b.a.nodes {
			if n.str(nodeOpType) == "Constant" && slices.Contains(n.strs(nodeOutput), name) {
				if a := nodeAttrs(n)["value"]; a != nil {
					t, _ = a.lastChild(attrT)
				}
			}
		}
	}
	if t == nil || DType(t.int(tensorDataType)) != Int64 {
		return nil, false
	}
	if raw := t.bytesOf(tensorRawData); raw != nil {
		out := make([]int64, len(raw)/8)
		for i := range out {
			v, _ := protowire.ConsumeFixed64(raw[8*i:])
			out[i] = int64(v)
		}
		return out, true
	}
	v, err := t.varints(tensorInt64Data)
	return v, err == nil
}
