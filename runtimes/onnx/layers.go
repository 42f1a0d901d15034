package onnx

import "fmt"

// Layer is a node whose weights are initializers: Conv, Gemm, MatMul (the layers that get depths)
// and BatchNormalization (which takes the depth of the layer before it).
type Layer struct {
	Name        string  // node name, or the weight's name when the node has none
	OpType      string  // Conv, Gemm, MatMul or BatchNormalization
	Weight      string  // initializer name of the weight (BatchNormalization: scale)
	Bias        string  // initializer name of the bias (MatMul: of the Add that follows it); "" when none
	WeightShape []int64 // shape of Weight
	FanIn       int64   // inputs per output unit, as PyTorch's init computes it; 0 for BatchNormalization
	Params      int64   // elements of Weight plus Bias
	Depth       int     // 0-based index among the Conv/Gemm/MatMul layers
	RelDepth    float64 // Depth/(n-1) over the n Conv/Gemm/MatMul layers; 0 when n == 1
	DType       DType   // stored type of Weight
}

// Layers lists the weighted layers in graph (topological) order; see Layer for which nodes count.
func (m *Model) Layers() []Layer {
	nodes, _ := m.nodes()               // decoded and checked by Parse
	var consumers map[string][]*message // built on the first MatMul, for its bias
	var layers []Layer
	depth, weighted := -1, 0
	for _, n := range nodes {
		if n.str(nodeDomain) != "" && n.str(nodeDomain) != "ai.onnx" {
			continue
		}
		op := n.str(nodeOpType)
		switch op {
		case "Conv", "Gemm", "MatMul", "BatchNormalization":
		default:
			continue
		}
		in := n.strs(nodeInput)
		l := Layer{Name: n.str(nodeName), OpType: op}
		if len(in) < 2 || !m.isInit(in[1]) {
			continue
		}
		l.Weight = in[1]
		w, _ := tensorHeader(m.inits[l.Weight])
		l.WeightShape, l.DType = w.Dims, w.DType
		rank := len(w.Dims)
		switch op {
		case "Conv":
			if rank < 3 {
				continue
			}
			l.FanIn = product(w.Dims[1:])
		case "Gemm":
			if rank != 2 {
				continue
			}
			l.FanIn = w.Dims[0]
			if attrInt(n, "transB", 0) != 0 {
				l.FanIn = w.Dims[1]
			}
		case "MatMul":
			if rank < 1 {
				continue
			}
			l.FanIn = w.Dims[max(rank-2, 0)]
			if consumers == nil {
				consumers = map[string][]*message{}
				for _, c := range nodes {
					for _, in := range c.strs(nodeInput) {
						consumers[in] = append(consumers[in], c)
					}
				}
			}
			l.Bias = m.matMulBias(n, consumers, w.Dims[rank-1])
		}
		if op != "MatMul" && len(in) >= 3 && m.isInit(in[2]) {
			l.Bias = in[2]
		}
		if op == "BatchNormalization" {
			l.FanIn = 0
		} else {
			depth++
			weighted++
		}
		l.Depth = max(depth, 0)
		if l.Name == "" {
			l.Name = l.Weight
		}
		l.Params = w.Elements()
		if l.Bias != "" {
			b, _ := tensorHeader(m.inits[l.Bias])
			l.Params += b.Elements()
		}
		layers = append(layers, l)
	}
	for i := range layers {
		if weighted > 1 {
			layers[i].RelDepth = float64(layers[i].Depth) / float64(weighted-1)
		}
	}
	return layers
}

// matMulBias finds the bias of a MatMul exported as MatMul followed by Add with a 1-D initializer of
// the output width, the way PyTorch exports Linear on inputs of rank 3 and more.
func (m *Model) matMulBias(n *message, consumers map[string][]*message, width int64) string {
	out := n.strs(nodeOutput)
	if len(out) != 1 || len(consumers[out[0]]) != 1 {
		return ""
	}
	add := consumers[out[0]][0]
	if add.str(nodeOpType) != "Add" {
		return ""
	}
	for _, in := range add.strs(nodeInput) {
		if in == out[0] || !m.isInit(in) {
			continue
		}
		b, _ := tensorHeader(m.inits[in])
		if len(b.Dims) == 1 && b.Dims[0] == width {
			return in
		}
	}
	return ""
}

// isInit reports whether name is an initializer of the graph.
func (m *Model) isInit(name string) bool {
	_, ok := m.inits[name]
	return ok
}

// attrInt returns the INT attribute name of a node, def when absent.
func attrInt(n *message, name string, def int64) int64 {
	attrs, _ := n.children(nodeAttribute) // decoded and checked by Parse
	for _, a := range attrs {
		if a.str(attrName) == name && a.has(attrI) {
			return a.int(attrI)
		}
	}
	return def
}

// Kernels holds the 3×3 kernels of one Conv layer as a (COut·CIn) × 9 row-major matrix.
type Kernels struct {
	Layer     Layer
	COut, CIn int64
	Values    []float32 // len COut·CIn·9; row r = output channel r/CIn, input channel r%CIn
}

// Rows is the number of kernels, COut·CIn.
func (k *Kernels) Rows() int { return int(k.COut * k.CIn) }

// Row returns kernel r (9 values, row-major over the 3×3 window).
func (k *Kernels) Row(r int) []float32 { return k.Values[9*r : 9*r+9 : 9*r+9] }

// Kernels3x3 returns the 3×3 kernels of a Conv layer; other ops and kernel sizes are refused.
func (m *Model) Kernels3x3(layer Layer) (*Kernels, error) {
	s := layer.WeightShape
	if layer.OpType != "Conv" || len(s) != 4 || s[2] != 3 || s[3] != 3 {
		return nil, fmt.Errorf("kernels of layer %q: %s weight %v is not a 3x3 convolution", layer.Name, layer.OpType, s)
	}
	t, err := m.Initializer(layer.Weight)
	if err != nil {
		return nil, fmt.Errorf("kernels of layer %q: %w", layer.Name, err)
	}
	return &Kernels{Layer: layer, COut: s[0], CIn: s[1], Values: t.Float32}, nil
}
