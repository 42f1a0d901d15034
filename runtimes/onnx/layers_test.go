package onnx

import (
	"slices"
	"strings"
	"testing"
)

// zerosTensor is a float32 initializer of zeros.
func zerosTensor(t testing.TB, name string, dims ...int64) *message {
	return mustTensor(t, name, Float32, dims, make([]float32, product(dims)))
}

func TestLayersFanInDepthAndBias(t *testing.T) {
	// One graph holding every case; the expected list is in graph order.
	nodes := []*message{
		nodeMessage("stem", "Conv", []string{"x", "c1.w", "c1.b"}, []string{"c1"}),                            // fan-in 3·3·3
		nodeMessage("", "BatchNormalization", []string{"c1", "bn.s", "bn.b", "bn.m", "bn.v"}, []string{"bn"}), // depth of stem
		nodeMessage("dw", "Conv", []string{"bn", "c2.w"}, []string{"c2"}, intAttr("group", 8)),                // depthwise: fan-in 1·3·3, no bias
		nodeMessage("dyn", "Conv", []string{"c2", "runtime_w"}, []string{"c3"}),                               // weight not an initializer: skipped
		nodeMessage("", "Gemm", []string{"c3", "g1.w", "g1.b"}, []string{"g1"}),                               // transB=0: fan-in dims[0]
		nodeMessage("head", "Gemm", []string{"g1", "g2.w", "g2.b"}, []string{"g2"}, intAttr("transB", 1)),     // transB=1: fan-in dims[1]
		nodeMessage("proj", "MatMul", []string{"g2", "mm.w"}, []string{"mm"}),                                 // bias in the following Add
		nodeMessage("proj_bias", "Add", []string{"mm", "mm.b"}, []string{"out"}),
		nodeMessage("", "Relu", []string{"out"}, []string{"y"}),
	}
	inits := []*message{
		zerosTensor(t, "c1.w", 8, 3, 3, 3), zerosTensor(t, "c1.b", 8),
		zerosTensor(t, "bn.s", 8), zerosTensor(t, "bn.b", 8), zerosTensor(t, "bn.m", 8), zerosTensor(t, "bn.v", 8),
		zerosTensor(t, "c2.w", 8, 1, 3, 3),
		zerosTensor(t, "g1.w", 32, 16), zerosTensor(t, "g1.b", 16),
		zerosTensor(t, "g2.w", 10, 16), zerosTensor(t, "g2.b", 10),
		zerosTensor(t, "mm.w", 10, 5), zerosTensor(t, "mm.b", 5),
	}
	m, err := Parse(encodeModel(t, graphSpec{nodes: nodes, inits: inits,
		inputs: []*message{valueInfoMessage("x", Float32, fixedDims(1, 3, 8, 8)), valueInfoMessage("runtime_w", Float32, fixedDims(8, 8, 1, 1))}}), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Layer{
		{Name: "stem", OpType: "Conv", Weight: "c1.w", Bias: "c1.b", WeightShape: []int64{8, 3, 3, 3}, FanIn: 27, Params: 216 + 8, Depth: 0, RelDepth: 0},
		{Name: "bn.s", OpType: "BatchNormalization", Weight: "bn.s", Bias: "bn.b", WeightShape: []int64{8}, FanIn: 0, Params: 16, Depth: 0, RelDepth: 0},
		{Name: "dw", OpType: "Conv", Weight: "c2.w", WeightShape: []int64{8, 1, 3, 3}, FanIn: 9, Params: 72, Depth: 1, RelDepth: 0.25},
		{Name: "g1.w", OpType: "Gemm", Weight: "g1.w", Bias: "g1.b", WeightShape: []int64{32, 16}, FanIn: 32, Params: 512 + 16, Depth: 2, RelDepth: 0.5},
		{Name: "head", OpType: "Gemm", Weight: "g2.w", Bias: "g2.b", WeightShape: []int64{10, 16}, FanIn: 16, Params: 160 + 10, Depth: 3, RelDepth: 0.75},
		{Name: "proj", OpType: "MatMul", Weight: "mm.w", Bias: "mm.b", WeightShape: []int64{10, 5}, FanIn: 10, Params: 50 + 5, Depth: 4, RelDepth: 1},
	}
	got := m.Layers()
	if len(got) != len(want) {
		t.Fatalf("%d layers, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		want[i].DType = Float32
		g, w := got[i], want[i]
		if g.Name != w.Name || g.OpType != w.OpType || g.Weight != w.Weight || g.Bias != w.Bias || !slices.Equal(g.WeightShape, w.WeightShape) ||
			g.FanIn != w.FanIn || g.Params != w.Params || g.Depth != w.Depth || g.RelDepth != w.RelDepth || g.DType != w.DType {
			t.Errorf("layer %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestLayersSingleLayerHasRelativeDepthZero(t *testing.T) {
	m, err := Parse(encodeModel(t, graphSpec{
		nodes: []*message{nodeMessage("fc", "MatMul", []string{"x", "w"}, []string{"y"})},
		inits: []*message{zerosTensor(t, "w", 4, 2)},
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	l := m.Layers()
	if len(l) != 1 || l[0].RelDepth != 0 || l[0].FanIn != 4 || l[0].Bias != "" {
		t.Errorf("layers %+v", l)
	}
}

func TestKernels3x3(t *testing.T) {
	c := tinyClassifier(Float32, 1, 9) // 3 filters, 2 channels, 3×3
	m, _ := parseClassifier(t, c)
	layers := m.Layers()
	k, err := m.Kernels3x3(layers[0])
	if err != nil {
		t.Fatal(err)
	}
	if k.Rows() != 6 || k.COut != 3 || k.CIn != 2 || k.Layer.Name != "conv" {
		t.Fatalf("kernels: %d rows, %d×%d, layer %q", k.Rows(), k.COut, k.CIn, k.Layer.Name)
	}
	for o := 0; o < 3; o++ {
		for i := 0; i < 2; i++ {
			row := k.Row(o*2 + i)
			for y := 0; y < 3; y++ {
				for x := 0; x < 3; x++ {
					if row[y*3+x] != c.ConvWeight[((o*2+i)*3+y)*3+x] {
						t.Fatalf("kernel (out %d, in %d) at (%d,%d) = %v, want %v", o, i, y, x, row[y*3+x], c.ConvWeight[((o*2+i)*3+y)*3+x])
					}
				}
			}
		}
	}
	if _, err := m.Kernels3x3(layers[1]); err == nil || !strings.Contains(err.Error(), "not a 3x3 convolution") {
		t.Errorf("Kernels3x3 of the Gemm layer: %v", err)
	}
	five := tinyClassifier(Float32, 1, 9)
	five.Kernel = 5
	five.ConvWeight = make([]float32, 3*2*5*5)
	m5, _ := parseClassifier(t, five)
	if _, err := m5.Kernels3x3(m5.Layers()[0]); err == nil {
		t.Error("Kernels3x3 accepted a 5x5 convolution")
	}
}

func TestSqueezeNetKernels3x3(t *testing.T) {
	m, _ := openSqueezeNet(t)
	var rows []int
	for _, l := range m.Layers() {
		k, err := m.Kernels3x3(l)
		if err != nil {
			continue
		}
		rows = append(rows, k.Rows())
	}
	// conv1 (64·3) and the eight expand3x3 convolutions (fire2..fire9).
	want := []int{192, 64 * 16, 64 * 16, 128 * 32, 128 * 32, 192 * 48, 192 * 48, 256 * 64, 256 * 64}
	if !slices.Equal(rows, want) {
		t.Errorf("3x3 kernel rows per layer %v, want %v", rows, want)
	}
}
