package onnx

import (
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Padding modes SetConvPadding writes, named as PyTorch's Conv2d padding_mode.
const (
	PadZeros     = "zeros"     // the Conv's own zero padding (nothing changes)
	PadReflect   = "reflect"   // Pad mode reflect: mirror without repeating the edge
	PadReplicate = "replicate" // Pad mode edge: repeat the edge pixel
	PadCircular  = "circular"  // wrap around: Slice + Concat per spatial axis (Pad's wrap needs opset 19)
)

// PaddingModes lists the modes SetConvPadding accepts.
func PaddingModes() []string { return []string{PadZeros, PadReflect, PadReplicate, PadCircular} }

// SetConvPadding makes every 2-D Conv with explicit non-zero pads pad its input with mode
// instead of zeros: a Pad node (or, for circular, Slice and Concat nodes) before the Conv, whose
// own pads become 0. Convs with auto_pad are left alone. It returns how many Convs changed.
// Pads are Constant nodes, so the rewrite works for every IR version; the opset decides between
// attribute and input forms.
func (m *Model) SetConvPadding(mode string) (int, error) {
	if !slices.Contains(PaddingModes(), mode) {
		return 0, fmt.Errorf("padding mode %q: want one of %v", mode, PaddingModes())
	}
	if mode == PadZeros {
		return 0, nil
	}
	v := m.OpsetVersion()
	if v < 2 {
		return 0, fmt.Errorf("padding mode %s: opset %d has no Pad modes", mode, v)
	}
	nodes, err := m.nodes()
	if err != nil {
		return 0, err
	}
	targets := map[*message]bool{}
	for _, n := range nodes {
		if n.str(nodeOpType) != "Conv" || (n.str(nodeDomain) != "" && n.str(nodeDomain) != "ai.onnx") {
			continue
		}
		if ap := attrStringOf(n, "auto_pad", "NOTSET"); ap != "NOTSET" && ap != "" {
			continue
		}
		pads := attrIntsOf(n, "pads")
		if len(pads) != 4 || slices.Max(pads) == 0 {
			continue
		}
		if slices.Min(pads) < 0 {
			return 0, fmt.Errorf("padding mode %s: Conv %q has negative pads %v", mode, n.str(nodeName), pads)
		}
		targets[n] = true
	}
	if len(targets) == 0 {
		return 0, nil
	}
	r := &padRewriter{v: v, mode: mode, seen: map[string]bool{}}
	var fields []field
	for i := range m.graph.fields {
		f := m.graph.fields[i]
		if f.num != graphNode {
			fields = append(fields, f)
			continue
		}
		n, _ := m.graph.child(i)
		if !targets[n] {
			fields = append(fields, f)
			continue
		}
		pre, conv := r.rewrite(n)
		for _, p := range pre {
			fields = append(fields, messageField(graphNode, p))
		}
		fields = append(fields, messageField(graphNode, conv))
	}
	m.graph.fields = fields
	m.graph.edited = true
	return len(targets), nil
}

// padRewriter builds the nodes that pad one Conv's input.
type padRewriter struct {
	v    int64
	mode string
	seq  int
	seen map[string]bool
}

func (r *padRewriter) name(conv, what string) string {
	r.seq++
	return fmt.Sprintf("%s/vistudy_%s_%s_%d", conv, r.mode, what, r.seq)
}

// ints is a Constant node holding an int64 vector, and its output.
func (r *padRewriter) ints(conv string, vals ...int64) (*message, string) {
	out := r.name(conv, "const")
	raw := make([]byte, 0, 8*len(vals))
	for _, x := range vals {
		raw = protowire.AppendFixed64(raw, uint64(x))
	}
	t := newMessage(packedVarints(tensorDims, []int64{int64(len(vals))}), varintField(tensorDataType, int64(Int64)),
		stringField(tensorName, out), bytesField(tensorRawData, raw))
	return nodeMessage(out, "Constant", nil, []string{out}, tensorAttr("value", t)), out
}

// rewrite returns the nodes padding Conv n's input and the Conv with zero pads reading their output.
func (r *padRewriter) rewrite(n *message) ([]*message, *message) {
	in, out := n.strs(nodeInput), n.strs(nodeOutput)
	conv := n.str(nodeName)
	if conv == "" {
		conv = out[0]
	}
	pads := attrIntsOf(n, "pads") // [top, left, bottom, right]
	var pre []*message
	x := in[0]
	if r.mode == PadCircular {
		for axis, p := range [][2]int64{{pads[0], pads[2]}, {pads[1], pads[3]}} {
			if p[0] == 0 && p[1] == 0 {
				continue
			}
			ax := int64(2 + axis)
			parts := []string{}
			if p[0] > 0 {
				s, sn := r.slice(conv, x, -p[0], math.MaxInt64, ax)
				pre, parts = append(pre, s...), append(parts, sn)
			}
			parts = append(parts, x)
			if p[1] > 0 {
				s, sn := r.slice(conv, x, 0, p[1], ax)
				pre, parts = append(pre, s...), append(parts, sn)
			}
			cat := r.name(conv, "wrap")
			pre = append(pre, nodeMessage(cat, "Concat", parts, []string{cat}, intAttr("axis", ax)))
			x = cat
		}
	} else {
		onnxMode := "reflect"
		if r.mode == PadReplicate {
			onnxMode = "edge"
		}
		full := []int64{0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]}
		padded := r.name(conv, "pad")
		if r.v < 11 {
			pre = append(pre, nodeMessage(padded, "Pad", []string{x}, []string{padded}, intsAttr("pads", full...), stringAttr("mode", onnxMode)))
		} else {
			c, cn := r.ints(conv, full...)
			pre = append(pre, c, nodeMessage(padded, "Pad", []string{x, cn}, []string{padded}, stringAttr("mode", onnxMode)))
		}
		x = padded
	}
	ins := append([]string{x}, in[1:]...)
	c := cloneNode(n, "Conv", ins, out, "pads")
	c.fields = append(c.fields, messageField(nodeAttribute, intsAttr("pads", 0, 0, 0, 0)))
	if d := n.str(nodeDomain); d != "" {
		c.fields = append(c.fields, stringField(nodeDomain, d))
	}
	return pre, c
}

// slice takes x[start:end] along axis (Slice with inputs from opset 10, attributes before).
func (r *padRewriter) slice(conv, x string, start, end, axis int64) ([]*message, string) {
	out := r.name(conv, "slice")
	if r.v < 10 {
		return []*message{nodeMessage(out, "Slice", []string{x}, []string{out},
			intsAttr("starts", start), intsAttr("ends", end), intsAttr("axes", axis))}, out
	}
	s, sn := r.ints(conv, start)
	e, en := r.ints(conv, end)
	a, an := r.ints(conv, axis)
	return []*message{s, e, a, nodeMessage(out, "Slice", []string{x, sn, en, an}, []string{out})}, out
}

// WritePaddingVariant writes the model at src with its Conv padding rewritten to mode (see
// SetConvPadding) to dst, and returns how many convolutions changed. A study compares padding
// modes by loading the variants as separate models.
func WritePaddingVariant(src, dst, mode string) (int, error) {
	m, err := Open(src)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	n, err := m.SetConvPadding(mode)
	if err != nil {
		return 0, fmt.Errorf("padding variant of %s: %w", src, err)
	}
	if err := m.WriteFile(dst); err != nil {
		return 0, err
	}
	return n, nil
}
