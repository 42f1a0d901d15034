package onnx

import (
	"fmt"
	"slices"
)

// Float32IO gives the graph a float32 interface for one input and one output, so a runtime can
// feed and read float32 whatever the model computes in: a float16/bfloat16/float64 input is
// replaced by a float32 input (name + "_float32") feeding a Cast to the original type, and such an
// output is Cast to float32 into a new output (name + "_float32"). It returns the names to use.
func (m *Model) Float32IO(input, output string) (newInput, newOutput string, err error) {
	ins, err := m.valueInfos(graphInput)
	if err != nil {
		return "", "", fmt.Errorf("float32 io: %w", err)
	}
	outs, err := m.valueInfos(graphOutput)
	if err != nil {
		return "", "", fmt.Errorf("float32 io: %w", err)
	}
	i := slices.IndexFunc(ins, func(v ValueInfo) bool { return v.Name == input })
	if i < 0 {
		return "", "", fmt.Errorf("float32 io: %q is not a graph input", input)
	}
	o := slices.IndexFunc(outs, func(v ValueInfo) bool { return v.Name == output })
	if o < 0 {
		return "", "", fmt.Errorf("float32 io: %q is not a graph output", output)
	}
	newInput, newOutput = input, output
	if in := ins[i]; in.ElemType != Float32 {
		if !in.ElemType.IsFloat() {
			return "", "", fmt.Errorf("float32 io: input %q is %s, not a floating-point tensor", input, in.ElemType)
		}
		newInput = input + "_float32"
		if err := m.graph.removeIf(graphInput, func(vi *message) bool { return vi.str(valueInfoName) == input }); err != nil {
			return "", "", fmt.Errorf("float32 io: %w", err)
		}
		m.graph.add(messageField(graphInput, valueInfoMessage(newInput, Float32, in.Dims)))
		cast := nodeMessage("vistudy_cast_"+input, "Cast", []string{newInput}, []string{input}, intAttr("to", int64(in.ElemType)))
		m.graph.insertFirst(messageField(graphNode, cast)) // nodes are topologically sorted
	}
	if out := outs[o]; out.ElemType != Float32 {
		if !out.ElemType.IsFloat() {
			return "", "", fmt.Errorf("float32 io: output %q is %s, not a floating-point tensor", output, out.ElemType)
		}
		newOutput = output + "_float32"
		if err := m.graph.removeIf(graphOutput, func(vi *message) bool { return vi.str(valueInfoName) == output }); err != nil {
			return "", "", fmt.Errorf("float32 io: %w", err)
		}
		m.graph.add(messageField(graphOutput, valueInfoMessage(newOutput, Float32, out.Dims)))
		cast := nodeMessage("vistudy_cast_"+output, "Cast", []string{output}, []string{newOutput}, intAttr("to", int64(Float32)))
		m.graph.add(messageField(graphNode, cast))
	}
	return newInput, newOutput, nil
}

// insertFirst inserts f before the first occurrence of its number (or at the end).
func (m *message) insertFirst(f field) {
	i := slices.IndexFunc(m.fields, func(g field) bool { return g.num == f.num })
	if i < 0 {
		m.fields = append(m.fields, f)
	} else {
		m.fields = slices.Insert(slices.Clone(m.fields), i, f)
	}
	m.edited = true
}
