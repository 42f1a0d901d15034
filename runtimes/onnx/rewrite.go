package onnx

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// SetBatchDim makes dimension 0 of the non-initializer graph inputs and of the graph outputs the
// symbolic dimension param, so a runtime accepts any batch size. value_info entries whose first
// dimension equals an input's former fixed batch size become symbolic too, so stale annotations of
// intermediate tensors do not contradict the new batch.
func (m *Model) SetBatchDim(param string) error {
	if param == "" {
		return errors.New("set batch dimension: empty parameter name")
	}
	inputs, err := m.graph.children(graphInput)
	if err != nil {
		return fmt.Errorf("set batch dimension: %w", err)
	}
	outputs, err := m.graph.children(graphOutput)
	if err != nil {
		return fmt.Errorf("set batch dimension: %w", err)
	}
	old := map[int64]bool{}
	for _, vi := range inputs {
		if m.isInit(vi.str(valueInfoName)) {
			continue
		}
		v, err := setDim0(vi, param)
		if err != nil {
			return fmt.Errorf("set batch dimension of input %q: %w", vi.str(valueInfoName), err)
		}
		if v > 0 {
			old[v] = true
		}
	}
	for _, vi := range outputs {
		if _, err := setDim0(vi, param); err != nil {
			return fmt.Errorf("set batch dimension of output %q: %w", vi.str(valueInfoName), err)
		}
	}
	annotated, err := m.graph.children(graphValueInfo)
	if err != nil {
		return fmt.Errorf("set batch dimension: %w", err)
	}
	for _, vi := range annotated {
		d0, err := firstDim(vi)
		if err != nil || d0 == nil || !d0.has(dimValue) || !old[d0.int(dimValue)] {
			continue
		}
		if _, err := setDim0(vi, param); err != nil {
			return fmt.Errorf("set batch dimension of value %q: %w", vi.str(valueInfoName), err)
		}
	}
	return nil
}

// firstDim returns the first TensorShapeProto.Dimension of a ValueInfoProto, nil when it has none.
func firstDim(vi *message) (*message, error) {
	tt, err := tensorTypeOf(vi)
	if err != nil || tt == nil {
		return nil, err
	}
	shape, err := tt.lastChild(tensorTypeShape)
	if err != nil || shape == nil {
		return nil, err
	}
	i := shape.last(shapeDim)
	for j := range shape.fields { // the first occurrence is dimension 0
		if shape.fields[j].num == shapeDim {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, nil
	}
	return shape.child(i)
}

// setDim0 replaces dimension 0 of a ValueInfoProto by the symbolic param and returns its former fixed value (0 if none).
func setDim0(vi *message, param string) (int64, error) {
	d, err := firstDim(vi)
	if err != nil || d == nil {
		return 0, err
	}
	old := int64(0)
	if d.has(dimValue) && !d.has(dimParam) {
		old = d.int(dimValue)
	}
	d.remove(dimValue)
	d.set(stringField(dimParam, param))
	return old, nil
}

// ExposeOutput adds the intermediate tensor name as a graph output. Its type comes from value_info
// (or the graph input of that name) when annotated there, shape included; otherwise the element
// type is traced back through the producing nodes and the shape is left unknown. Exposing an
// existing output does nothing.
func (m *Model) ExposeOutput(name string) error {
	outs, _ := m.valueInfos(graphOutput) // decoded and checked by Parse
	for _, o := range outs {
		if o.Name == name {
			return nil
		}
	}
	if !m.produced(name) {
		return fmt.Errorf("expose output %q: no node produces it and no graph input has that name", name)
	}
	for _, num := range []protowire.Number{graphValueInfo, graphInput} {
		annotated, err := m.graph.children(num)
		if err != nil {
			return fmt.Errorf("expose output %q: %w", name, err)
		}
		for _, vi := range annotated {
			if vi.str(valueInfoName) != name {
				continue
			}
			if tt, _ := tensorTypeOf(vi); tt == nil || tt.int(tensorTypeElem) == 0 {
				continue // annotation without an element type: trace it instead
			}
			b, err := vi.marshal()
			if err != nil {
				return fmt.Errorf("expose output %q: %w", name, err)
			}
			m.graph.add(bytesField(graphOutput, b))
			return nil
		}
	}
	dt := m.traceType(name, map[string]bool{})
	if dt == Undefined {
		dt = m.floatType()
	}
	m.graph.add(messageField(graphOutput, valueInfoMessage(name, dt, nil)))
	return nil
}

// produced reports whether name is a node output or a graph input.
func (m *Model) produced(name string) bool {
	if m.producer(name) != nil {
		return true
	}
	return slices.Contains(m.inputNames(), name)
}

// producer returns the node that outputs name, nil when none does.
func (m *Model) producer(name string) *message {
	nodes, _ := m.nodes() // decoded and checked by Parse
	for _, n := range nodes {
		for _, o := range n.strs(nodeOutput) {
			if o == name {
				return n
			}
		}
	}
	return nil
}

// traceType finds the element type of a tensor from annotations, initializers and the ops producing
// it, following the first input of type-preserving ops. Undefined when it cannot tell.
func (m *Model) traceType(name string, seen map[string]bool) DType {
	if seen[name] {
		return Undefined
	}
	seen[name] = true
	for _, num := range []protowire.Number{graphInput, graphOutput, graphValueInfo} {
		vis, _ := m.valueInfos(num) // decoded and checked by Parse
		for _, v := range vis {
			if v.Name == name && v.ElemType != Undefined {
				return v.ElemType
			}
		}
	}
	if t, ok := m.inits[name]; ok {
		return DType(t.int(tensorDataType))
	}
	n := m.producer(name)
	if n == nil {
		return Undefined
	}
	in := n.strs(nodeInput)
	switch n.str(nodeOpType) {
	case "Cast":
		return DType(attrInt(n, "to", 0))
	case "Shape", "Size", "NonZero", "ArgMax", "ArgMin", "NonMaxSuppression":
		return Int64
	case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf":
		return Bool
	case "DequantizeLinear":
		if len(in) > 1 {
			return m.traceType(in[1], seen)
		}
	}
	for _, i := range in {
		if i != "" {
			return m.traceType(i, seen)
		}
	}
	return Undefined
}

// floatType is the model's floating-point type: that of the first floating-point input, else of
// the first floating-point initializer, else float32.
func (m *Model) floatType() DType {
	for _, v := range m.Inputs() {
		if v.ElemType.IsFloat() {
			return v.ElemType
		}
	}
	for _, t := range m.Initializers() {
		if t.DType.IsFloat() {
			return t.DType
		}
	}
	return Float32
}

// valueInfoMessage builds a ValueInfoProto for a tensor; dims nil leaves the shape out.
func valueInfoMessage(name string, dt DType, dims []Dim) *message {
	tt := newMessage(varintField(tensorTypeElem, int64(dt)))
	if dims != nil {
		shape := newMessage()
		for _, d := range dims {
			var f field
			switch {
			case d.Param != "":
				f = stringField(dimParam, d.Param)
			case d.Value >= 0:
				f = varintField(dimValue, d.Value)
			}
			dim := newMessage()
			if f.num != 0 {
				dim = newMessage(f)
			}
			shape.fields = append(shape.fields, messageField(shapeDim, dim))
		}
		tt.fields = append(tt.fields, messageField(tensorTypeShape, shape))
	}
	return newMessage(
		stringField(valueInfoName, name),
		messageField(valueInfoType, newMessage(messageField(typeTensor, tt))),
	)
}

// PromoteInitializers makes the named initializers graph inputs as well (with their type and shape),
// so a runtime accepts replacement values for them at run time while the stored values stay the
// default. Initializers already listed as inputs of an IR ≥ 4 model are left as they are.
//
// IR < 4 models list every initializer as an input, yet ONNX Runtime treats those as constants and
// refuses to bind them; such a model is raised to IR 4 (a superset of IR 3) and keeps as inputs only
// the promoted initializers, so the others stay constants the runtime can optimise.
//
// ONNX Runtime 1.24 (CPU) crashes while creating a session at ORT_ENABLE_ALL for a float16 model with
// overridable initializers, in its FuseFp16InitializerToFp32NodeTransformer; disable that optimizer
// (session config "optimization.disable_specified_optimizers") or use ORT_ENABLE_EXTENDED.
func (m *Model) PromoteInitializers(names []string) error {
	promote := map[string]bool{}
	for _, name := range names {
		if !m.isInit(name) {
			return fmt.Errorf("promote initializer %q: not in the graph", name)
		}
		promote[name] = true
	}
	if m.IRVersion() < 4 {
		err := m.graph.removeIf(graphInput, func(vi *message) bool {
			name := vi.str(valueInfoName)
			return m.isInit(name) && !promote[name]
		})
		if err != nil {
			return fmt.Errorf("promote initializers: %w", err)
		}
		m.root.set(varintField(modelIRVersion, 4))
	}
	isInput := map[string]bool{}
	for _, name := range m.inputNames() {
		isInput[name] = true
	}
	for _, name := range names {
		if isInput[name] {
			continue
		}
		info, _ := tensorHeader(m.inits[name]) // checked by Parse
		dims := make([]Dim, len(info.Dims))
		for i, d := range info.Dims {
			dims[i] = Dim{Value: d}
		}
		m.graph.add(messageField(graphInput, valueInfoMessage(name, info.DType, dims)))
		isInput[name] = true
	}
	return nil
}
