package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// graphSpec lists the parts of a test model's graph.
type graphSpec struct {
	ir        int64
	opset     int64
	nodes     []*message
	inits     []*message
	inputs    []*message
	outputs   []*message
	valueInfo []*message
}

// encodeModel encodes a test model from its parts (IR 8, opset 13 unless given).
func encodeModel(t testing.TB, g graphSpec) []byte {
	t.Helper()
	if g.ir == 0 {
		g.ir = 8
	}
	if g.opset == 0 {
		g.opset = 13
	}
	graph := newMessage()
	for _, part := range []struct {
		num  protowire.Number
		msgs []*message
	}{{graphNode, g.nodes}, {graphInitializer, g.inits}, {graphInput, g.inputs}, {graphOutput, g.outputs}, {graphValueInfo, g.valueInfo}} {
		for _, m := range part.msgs {
			graph.fields = append(graph.fields, messageField(part.num, m))
		}
	}
	b, err := modelMessage(g.ir, g.opset, graph).marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustTensor builds a raw_data TensorProto or fails the test.
func mustTensor(t testing.TB, name string, dt DType, dims []int64, vals []float32) *message {
	t.Helper()
	m, err := tensorMessage(name, dt, dims, vals)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// parseClassifier encodes c and parses the result, failing the test on error.
func parseClassifier(t testing.TB, c Classifier) (*Model, []byte) {
	t.Helper()
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(b, "")
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

// mustMarshal encodes m, failing the test on error.
func mustMarshal(t testing.TB, m *Model) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openSqueezeNet opens the shared SqueezeNet (closed when the test ends) and reads its bytes.
func openSqueezeNet(t testing.TB) (*Model, []byte) {
	t.Helper()
	path := requireSqueezeNet(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, data
}

// fixedDims turns sizes into fixed dimensions.
func fixedDims(ds ...int64) []Dim {
	out := make([]Dim, len(ds))
	for i, d := range ds {
		out[i] = Dim{Value: d}
	}
	return out
}

// ir3Model is a float32 Conv model in the IR 3 style: every initializer is also a graph input.
func ir3Model(t testing.TB) []byte {
	w := make([]float32, 2*1*3*3)
	for i := range w {
		w[i] = float32(i) / 8
	}
	return encodeModel(t, graphSpec{
		ir: 3, opset: 7,
		nodes: []*message{nodeMessage("", "Conv", []string{"x", "w", "b"}, []string{"y"}, intsAttr("pads", 1, 1, 1, 1))},
		inits: []*message{mustTensor(t, "w", Float32, []int64{2, 1, 3, 3}, w), mustTensor(t, "b", Float32, []int64{2}, []float32{0.5, -0.5})},
		inputs: []*message{
			valueInfoMessage("w", Float32, fixedDims(2, 1, 3, 3)),
			valueInfoMessage("x", Float32, fixedDims(1, 1, 4, 4)),
			valueInfoMessage("b", Float32, fixedDims(2)),
		},
		outputs: []*message{valueInfoMessage("y", Float32, fixedDims(1, 2, 4, 4))},
	})
}

func TestClassifierModelFacts(t *testing.T) {
	c := tinyClassifier(Float32, 0, 1)
	m, _ := parseClassifier(t, c)
	if m.IRVersion() != 8 || m.OpsetVersion() != 13 || !slices.Equal(m.Opsets(), []Opset{{Version: 13}}) {
		t.Errorf("IR %d, opsets %v", m.IRVersion(), m.Opsets())
	}
	wantIn := []ValueInfo{{Name: "input", ElemType: Float32, Dims: []Dim{{Param: "N"}, {Value: 2}, {Value: 5}, {Value: 4}}}}
	if got := m.Inputs(); !equalValueInfos(got, wantIn) {
		t.Errorf("Inputs() = %+v, want %+v", got, wantIn)
	}
	wantOut := []ValueInfo{{Name: "logits", ElemType: Float32, Dims: []Dim{{Param: "N"}, {Value: 4}}}}
	if got := m.Outputs(); !equalValueInfos(got, wantOut) {
		t.Errorf("Outputs() = %+v, want %+v", got, wantOut)
	}
	var ops []string
	for _, n := range m.Nodes() {
		ops = append(ops, n.OpType)
	}
	if want := []string{"Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"}; !slices.Equal(ops, want) {
		t.Errorf("ops %v, want %v", ops, want)
	}
	for _, tc := range []struct {
		name string
		want []float32
		dims []int64
	}{
		{"conv.weight", c.ConvWeight, []int64{3, 2, 3, 3}},
		{"conv.bias", c.ConvBias, []int64{3}},
		{"fc.weight", c.FCWeight, []int64{4, 3}},
		{"fc.bias", c.FCBias, []int64{4}},
	} {
		got, err := m.Initializer(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Float32, tc.want) || !slices.Equal(got.Dims, tc.dims) || got.DType != Float32 {
			t.Errorf("Initializer(%q) = %s %v %v, want float32 %v %v", tc.name, got.DType, got.Dims, got.Float32, tc.dims, tc.want)
		}
	}
	if d := (Dim{Param: "N"}).String() + (Dim{Value: 3}).String() + (Dim{Value: -1}).String(); d != "N3?" {
		t.Errorf("Dim strings %q", d)
	}
}

// equalValueInfos compares value infos field by field.
func equalValueInfos(a, b []ValueInfo) bool {
	return slices.EqualFunc(a, b, func(x, y ValueInfo) bool {
		return x.Name == y.Name && x.ElemType == y.ElemType && slices.Equal(x.Dims, y.Dims) && (x.Dims == nil) == (y.Dims == nil)
	})
}

func TestUnmodifiedRoundTripIsByteIdentical(t *testing.T) {
	classifier, err := tinyClassifier(Float16, 2, 1).Encode()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"classifier float16", func(*testing.T) []byte { return classifier }},
		{"IR 3 conv", func(t *testing.T) []byte { return ir3Model(t) }},
		{"squeezenet", func(t *testing.T) []byte {
			b, err := os.ReadFile(requireSqueezeNet(t))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data(t)
			dir := t.TempDir()
			src := filepath.Join(dir, "in.onnx")
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			m.Layers() // reading must not disturb the encoding
			m.Outputs()
			out := mustMarshal(t, m)
			if !bytes.Equal(out, data) {
				t.Errorf("Marshal: %d bytes, differs from the %d-byte input", len(out), len(data))
			}
			dst := filepath.Join(dir, "out.onnx")
			if err := m.WriteFile(dst); err != nil {
				t.Fatal(err)
			}
			written, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(written, data) {
				t.Errorf("WriteFile: %d bytes, differs from the %d-byte input", len(written), len(data))
			}
			re, err := forceReencode(t, data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(re, data) {
				t.Errorf("re-encoding every message from its fields: %d bytes, differs from the %d-byte input", len(re), len(data))
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(leftovers) > 0 {
				t.Errorf("temporary files left behind: %v", leftovers)
			}
		})
	}
}

func TestWriteFileReplacesTheOpenFile(t *testing.T) {
	c := tinyClassifier(Float32, 1, 1)
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	zeros := make([]float32, 4)
	if err := m.SetInitializer("fc.bias", []int64{4}, zeros); err != nil {
		t.Fatal(err)
	}
	// The mapping of the old file stays valid while the new one is renamed over it.
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got, err := again.Initializer("fc.bias")
	if err != nil {
		t.Fatal(err)
	}
	w, err := again.Initializer("fc.weight")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Float32, zeros) || !slices.Equal(w.Float32, c.FCWeight) {
		t.Errorf("rewritten file: fc.bias %v, fc.weight %v", got.Float32, w.Float32)
	}
}

func TestParseRejectsMalformedModels(t *testing.T) {
	seg := mustTensor(t, "w", Float32, []int64{1}, []float32{1})
	seg.fields = append(seg.fields, messageField(tensorSegment, newMessage(varintField(1, 0), varintField(2, 1))))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not protobuf", []byte{0xff, 0xff, 0xff}, "parse ModelProto"},
		{"no graph", enc(tagVarint(modelIRVersion, 8)), "no graph"},
		{"duplicate initializer", encodeModel(t, graphSpec{inits: []*message{
			mustTensor(t, "w", Float32, []int64{1}, []float32{1}), mustTensor(t, "w", Float32, []int64{1}, []float32{2})}}), `"w": name used twice`},
		{"unnamed initializer", encodeModel(t, graphSpec{inits: []*message{
			mustTensor(t, "", Float32, []int64{1}, []float32{1})}}), "no name"},
		{"segmented tensor", encodeModel(t, graphSpec{inits: []*message{seg}}), "segmented"},
		{"graph is not a message", enc(tagBytes(modelGraph, []byte{0xff})), "ModelProto.graph"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.onnx")); err == nil || !strings.Contains(err.Error(), "missing.onnx") {
		t.Errorf("Open of a missing file: %v", err)
	}
}

func TestSqueezeNetFacts(t *testing.T) {
	m, _ := openSqueezeNet(t)
	if m.IRVersion() != 3 || m.OpsetVersion() != 7 {
		t.Errorf("IR %d opset %d, want 3 and 7", m.IRVersion(), m.OpsetVersion())
	}
	wantIn := []ValueInfo{{Name: "data_0", ElemType: Float16, Dims: fixedDims(1, 3, 224, 224)}}
	wantOut := []ValueInfo{{Name: "softmaxout_1", ElemType: Float16, Dims: fixedDims(1, 1000, 1, 1)}}
	if !equalValueInfos(m.Inputs(), wantIn) || !equalValueInfos(m.Outputs(), wantOut) {
		t.Errorf("inputs %+v outputs %+v", m.Inputs(), m.Outputs())
	}
	ops := map[string]int{}
	for _, n := range m.Nodes() {
		ops[n.OpType]++
	}
	for op, want := range map[string]int{"Conv": 26, "Relu": 26, "Concat": 8, "MaxPool": 3, "Dropout": 1, "GlobalAveragePool": 1, "Softmax": 1} {
		if ops[op] != want {
			t.Errorf("%d %s nodes, want %d", ops[op], op, want)
		}
	}
	layers := m.Layers()
	if len(layers) != 26 {
		t.Fatalf("%d layers, want 26", len(layers))
	}
	first, last := layers[0], layers[25]
	if first.Name != "conv1_w_0" || first.Bias != "conv1_b_0" || !slices.Equal(first.WeightShape, []int64{64, 3, 3, 3}) ||
		first.FanIn != 27 || first.Depth != 0 || first.RelDepth != 0 || first.DType != Float16 {
		t.Errorf("first layer %+v", first)
	}
	if last.Name != "conv10_w_0" || !slices.Equal(last.WeightShape, []int64{1000, 512, 1, 1}) ||
		last.FanIn != 512 || last.Depth != 25 || last.RelDepth != 1 {
		t.Errorf("last layer %+v", last)
	}
	var params, initParams int64
	for i, l := range layers {
		if l.OpType != "Conv" || (i > 0 && l.RelDepth <= layers[i-1].RelDepth) {
			t.Errorf("layer %d: %+v (relative depth must increase)", i, l)
		}
		params += l.Params
	}
	for _, ti := range m.Initializers() {
		initParams += ti.Elements()
	}
	if params != 1235496 || initParams != 1235496 {
		t.Errorf("parameters: %d in layers, %d in initializers, want 1,235,496", params, initParams)
	}
	if layers[3].Name != "fire2/expand3x3_w_0" || layers[3].FanIn != 16*3*3 {
		t.Errorf("layer 3 %+v, want fire2/expand3x3 with fan-in 144", layers[3])
	}
}

// Bounded memory: opening SqueezeNet maps the file instead of reading it, and listing its layers
// decodes only field headers, so the Go heap grows by far less than the 2.48 MB file.
func TestOpenLayersAllocatesFarLessThanTheFile(t *testing.T) {
	path := requireSqueezeNet(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const runs = 5
	for i := 0; i < runs; i++ {
		m, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(m.Layers()); n != 26 {
			t.Fatalf("%d layers", n)
		}
		m.Close()
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("Open+Layers+Close allocates %d bytes per run; the file has %d bytes (%.1f%%)", perRun, st.Size(), 100*float64(perRun)/float64(st.Size()))
	if perRun > uint64(st.Size())/10 {
		t.Errorf("Open+Layers allocates %d bytes per run, more than a tenth of the %d-byte file", perRun, st.Size())
	}
}

func BenchmarkOpenLayers(b *testing.B) {
	path := requireSqueezeNet(b)
	b.ReportAllocs()
	for b.Loop() {
		m, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Layers()) != 26 {
			b.Fatal("wrong layer count")
		}
		m.Close()
	}
}
