package onnx

import (
	"path/filepath"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// neighbourModel is a 1-channel 4×5 image through a 3×3 Conv with pads 1 whose one-hot kernel
// copies the pixel at offset (dy, dx) from the output position.
func neighbourModel(t *testing.T, opset int64, dy, dx int) *Model {
	t.Helper()
	g := newTestGraph(t, opset, 1, 1, 4, 5)
	w := make([]float32, 9)
	w[(dy+1)*3+dx+1] = 1
	wt, err := tensorMessage("w", Float32, []int64{1, 1, 3, 3}, w)
	if err != nil {
		t.Fatal(err)
	}
	g.inits = append(g.inits, wt)
	g.output = g.node("Conv", []string{"x", "w"}, "y", intsAttr("pads", 1, 1, 1, 1))
	graph := newMessage(stringField(graphName, "neighbour"))
	for _, n := range g.nodes {
		graph.fields = append(graph.fields, messageField(graphNode, n))
	}
	graph.fields = append(graph.fields, messageField(graphInitializer, wt),
		messageField(graphInput, valueInfoMessage("x", Float32, []Dim{{Value: 1}, {Value: 1}, {Value: 4}, {Value: 5}})),
		messageField(graphOutput, valueInfoMessage("y", Float32, []Dim{{Value: 1}, {Value: 1}, {Value: 4}, {Value: 5}})))
	b, err := modelMessage(8, opset, graph).marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(b, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSetConvPadding: the left and upper neighbours of the first column and row are 0 (zeros),
// the mirrored second pixel (reflect), the pixel itself (replicate) or the far edge (circular),
// at opsets with input and with attribute forms of Pad and Slice.
func TestSetConvPadding(t *testing.T) {
	requireORT(t)
	in := make([]float32, 20) // x[y][x] = 10·y + x + 1
	for y := 0; y < 4; y++ {
		for x := 0; x < 5; x++ {
			in[y*5+x] = float32(10*y + x + 1)
		}
	}
	at := func(y, x int) float32 { return in[y*5+x] }
	for _, opset := range []int64{9, 13} {
		for _, tc := range []struct {
			mode       string
			left, up   func(y, x int) float32 // expected output at column 0 / row 0
			rewritten  int
			leftOfEdge string // what the neighbour beyond the edge is, for the message
		}{
			{PadZeros, func(int, int) float32 { return 0 }, func(int, int) float32 { return 0 }, 0, "zero"},
			{PadReflect, func(y, _ int) float32 { return at(y, 1) }, func(_, x int) float32 { return at(1, x) }, 1, "second pixel"},
			{PadReplicate, func(y, _ int) float32 { return at(y, 0) }, func(_, x int) float32 { return at(0, x) }, 1, "edge pixel"},
			{PadCircular, func(y, _ int) float32 { return at(y, 4) }, func(_, x int) float32 { return at(3, x) }, 1, "far edge"},
		} {
			for _, dir := range []struct {
				dy, dx int
				want   func(y, x int) float32
				check  func(y, x int) bool
			}{
				{0, -1, tc.left, func(_, x int) bool { return x == 0 }},
				{-1, 0, tc.up, func(y, _ int) bool { return y == 0 }},
			} {
				m := neighbourModel(t, opset, dir.dy, dir.dx)
				n, err := m.SetConvPadding(tc.mode)
				if err != nil || n != tc.rewritten {
					t.Fatalf("opset %d %s: SetConvPadding = %d, %v; want %d", opset, tc.mode, n, err, tc.rewritten)
				}
				data, err := m.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				s := newSession(t, data, false)
				got := s.run([]ortTensor{{name: "x", dt: Float32, shape: []int64{1, 1, 4, 5}, vals: in}},
					[]ortTensor{{name: "y", dt: Float32, shape: []int64{1, 1, 4, 5}}})[0]
				for y := 0; y < 4; y++ {
					for x := 0; x < 5; x++ {
						want := float32(0)
						if dir.check(y, x) {
							want = dir.want(y, x)
						} else {
							want = at(y+dir.dy, x+dir.dx)
						}
						if got[y*5+x] != want {
							t.Fatalf("opset %d %s, neighbour (%d,%d) at (%d,%d): %g, want %g (the %s)", opset, tc.mode, dir.dy, dir.dx, y, x, got[y*5+x], want, tc.leftOfEdge)
						}
					}
				}
			}
		}
	}
	if _, err := neighbourModel(t, 13, 0, 0).SetConvPadding("mirror"); err == nil || !strings.Contains(err.Error(), "mirror") {
		t.Fatalf("mode mirror: %v", err)
	}
}

// TestPaddingVariantsGradient: the zoo model rewritten to each padding mode has a gradient that
// agrees with float64 finite differences of the rewritten model.
func TestPaddingVariantsGradient(t *testing.T) {
	requireORT(t)
	path := filepath.Join(repoRoot, "zoo", "models", "standard.onnx")
	for _, mode := range []string{PadReflect, PadReplicate, PadCircular} {
		t.Run(mode, func(t *testing.T) {
			m, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			n, err := m.SetConvPadding(mode)
			if err != nil || n != 4 {
				t.Fatalf("SetConvPadding = %d, %v; want the 4 convolutions", n, err)
			}
			data, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			v, err := Parse(data, "")
			if err != nil {
				t.Fatal(err)
			}
			gm, err := v.GradientModel(GradientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			in := v.Inputs()[0]
			shape := []int64{3, 64, 64}
			s := newGradSession(t, gm, in.Name, shape)
			x := randomInput(1, shape, 0, 1, 5)
			checkFiniteDifferences(t, s, fdCheck{ref: newRefModel(t, v), input: in.Name, output: v.Outputs()[0].Name,
				directions: 1, coordinates: 2}, x, []int64{3})
		})
	}
}

// TestSetConvPaddingSqueezeNet rewrites the IR 3, opset 7 SqueezeNet (attribute-form Pad, Constant
// nodes rather than initializers, which IR 3 would have to list as inputs) to reflect, and ONNX
// Runtime accepts the result.
func TestSetConvPaddingSqueezeNet(t *testing.T) {
	requireORT(t)
	path := requireSqueezeNet(t)
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n, err := m.SetConvPadding(PadReflect)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of SqueezeNet's convolutions pad", n)
	if n == 0 {
		t.Fatal("no SqueezeNet convolution was rewritten")
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := ort.NewSessionOptions()
	defer opts.Destroy()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, nil, nil, opts)
	if err != nil {
		t.Fatalf("ONNX Runtime refuses the reflect-padded SqueezeNet: %v", err)
	}
	s.Destroy()
}

// TestWritePaddingVariant writes the circular variant of the zoo model, which opens, keeps its
// interface, has one Concat per padded axis per convolution, and passes CheckGradient.
func TestWritePaddingVariant(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "standard-circular.onnx")
	n, err := WritePaddingVariant(filepath.Join(repoRoot, "zoo", "models", "standard.onnx"), dst, PadCircular)
	if err != nil || n != 4 {
		t.Fatalf("WritePaddingVariant = %d, %v; want 4 convolutions", n, err)
	}
	m, err := Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	concats := 0
	for _, node := range m.Nodes() {
		if node.OpType == "Concat" && strings.Contains(node.Name, "vistudy_circular") {
			concats++
		}
	}
	if concats != 8 || len(m.Inputs()) != 1 || m.Outputs()[0].Name != "logits" {
		t.Fatalf("variant: %d wrap concats, inputs %v, outputs %v", concats, m.Inputs(), m.Outputs())
	}
	if err := CheckGradient(dst); err != nil {
		t.Fatal(err)
	}
}
