package onnx

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// reparse marshals m and parses the result, so checks see what a reader of the file sees.
func reparse(t *testing.T, m *Model) *Model {
	t.Helper()
	b := mustMarshal(t, m)
	out, err := Parse(b, "")
	if err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	return out
}

// annotatedClassifier is a fixed-batch classifier with value_info: two intermediates with the
// batch first, and the head's weight whose leading 4 is not the batch.
func annotatedClassifier(t *testing.T, dt DType, batch int64) (Classifier, *Model) {
	t.Helper()
	c := tinyClassifier(dt, batch, 5)
	m, _ := parseClassifier(t, c)
	m.graph.add(messageField(graphValueInfo, valueInfoMessage("conv_out", dt, fixedDims(batch, 3, 5, 4))))
	m.graph.add(messageField(graphValueInfo, valueInfoMessage(ClassifierPooled, dt, fixedDims(batch, 3))))
	m.graph.add(messageField(graphValueInfo, valueInfoMessage("fc.weight", dt, fixedDims(4, 3))))
	return c, reparse(t, m)
}

func TestSetBatchDim(t *testing.T) {
	c, m := annotatedClassifier(t, Float32, 2)
	if err := m.SetBatchDim("B"); err != nil {
		t.Fatal(err)
	}
	m = reparse(t, m)
	in, out := m.Inputs()[0], m.Outputs()[0]
	if !slices.Equal(in.Dims, []Dim{{Param: "B"}, {Value: 2}, {Value: 5}, {Value: 4}}) || !slices.Equal(out.Dims, []Dim{{Param: "B"}, {Value: 4}}) {
		t.Errorf("input %v, output %v", in.Dims, out.Dims)
	}
	vis, err := m.valueInfos(graphValueInfo)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Dim{}
	for _, v := range vis {
		got[v.Name] = v.Dims[0]
	}
	want := map[string]Dim{"conv_out": {Param: "B"}, ClassifierPooled: {Param: "B"}, "fc.weight": {Value: 4}}
	for name, d := range want {
		if got[name] != d {
			t.Errorf("value_info %s dim 0 = %v, want %v", name, got[name], d)
		}
	}
	if err := m.SetBatchDim(""); err == nil {
		t.Error("SetBatchDim accepted an empty name")
	}
	// The rewritten model runs a batch of 3 that the original (batch 2) could not.
	b := mustMarshal(t, m)
	x := make([]float32, 3*c.Channels*c.Height*c.Width)
	for i := range x {
		x[i] = float32(i%11) / 11
	}
	logits := newSession(t, b, false).run(
		[]ortTensor{{name: ClassifierInput, dt: Float32, shape: []int64{3, c.Channels, c.Height, c.Width}, vals: x}},
		[]ortTensor{{name: ClassifierOutput, dt: Float32, shape: []int64{3, c.Classes}}})[0]
	if d := maxAbsDiff(logits, referenceLogits(c, x, 3)); d > 1e-5 {
		t.Errorf("batch of 3 after SetBatchDim differs from the reference by %g", d)
	}
}

func TestExposeOutputTypes(t *testing.T) {
	castGraph := encodeModel(t, graphSpec{
		nodes: []*message{
			nodeMessage("", "Cast", []string{"x"}, []string{"h"}, intAttr("to", int64(Float16))),
			nodeMessage("", "Relu", []string{"h"}, []string{"r"}),
			nodeMessage("", "Shape", []string{"r"}, []string{"s"}),
			nodeMessage("", "Mul", []string{"k", "x"}, []string{"kx"}),
		},
		inits:   []*message{mustTensor(t, "k", BFloat16, []int64{1}, []float32{2})},
		inputs:  []*message{valueInfoMessage("x", Float32, fixedDims(2, 2))},
		outputs: []*message{valueInfoMessage("s", Int64, fixedDims(2))},
	})
	_, annotated := annotatedClassifier(t, Float16, 1)
	annotatedBytes := mustMarshal(t, annotated)
	for _, tc := range []struct {
		name   string
		model  []byte
		tensor string
		want   ValueInfo
	}{
		{"through Cast", castGraph, "h", ValueInfo{Name: "h", ElemType: Float16}},
		{"after Cast", castGraph, "r", ValueInfo{Name: "r", ElemType: Float16}},
		{"first input is an initializer", castGraph, "kx", ValueInfo{Name: "kx", ElemType: BFloat16}},
		{"graph input", castGraph, "x", ValueInfo{Name: "x", ElemType: Float32, Dims: fixedDims(2, 2)}},
		{"value_info copied with its shape", annotatedBytes, ClassifierPooled, ValueInfo{Name: ClassifierPooled, ElemType: Float16, Dims: fixedDims(1, 3)}},
		{"traced back to the input", annotatedBytes, "pool_out", ValueInfo{Name: "pool_out", ElemType: Float16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.model, "")
			if err != nil {
				t.Fatal(err)
			}
			n := len(m.Outputs())
			if err := m.ExposeOutput(tc.tensor); err != nil {
				t.Fatal(err)
			}
			outs := reparse(t, m).Outputs()
			if len(outs) != n+1 || !equalValueInfos(outs[n:], []ValueInfo{tc.want}) {
				t.Errorf("outputs %+v, want the last to be %+v", outs, tc.want)
			}
		})
	}
	m, err := Parse(castGraph, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ExposeOutput("s"); err != nil {
		t.Errorf("exposing an existing output: %v", err)
	}
	if b, _ := m.Marshal(); !bytes.Equal(b, castGraph) {
		t.Error("exposing an existing output changed the model")
	}
	if err := m.ExposeOutput("nowhere"); err == nil || !strings.Contains(err.Error(), `"nowhere"`) {
		t.Errorf("exposing an unknown tensor: %v", err)
	}
}

func TestExposeOutputRunsFloat16(t *testing.T) {
	c := tinyClassifier(Float16, 0, 8)
	m, _ := parseClassifier(t, c)
	if err := m.ExposeOutput(ClassifierPooled); err != nil {
		t.Fatal(err)
	}
	exposed := mustMarshal(t, m)
	rng := rand.New(rand.NewPCG(2, 2))
	x := make([]float32, 2*c.Channels*c.Height*c.Width)
	for i := range x {
		x[i] = roundTo(Float16, rng.Float32())
	}
	res := newSession(t, exposed, false).run(
		[]ortTensor{{name: ClassifierInput, dt: Float16, shape: []int64{2, c.Channels, c.Height, c.Width}, vals: x}},
		[]ortTensor{{name: ClassifierOutput, dt: Float16, shape: []int64{2, c.Classes}}, {name: ClassifierPooled, dt: Float16, shape: []int64{2, c.Filters}}})
	var want []float32
	for _, row := range referencePooled(c, x, 2) {
		for _, v := range row {
			want = append(want, float32(v))
		}
	}
	if d := maxAbsDiff(res[1], want); d > 1e-2 {
		t.Errorf("exposed features %v, hand-computed %v: difference %g", res[1], want, d)
	}
	if d := maxAbsDiff(res[0], referenceLogits(c, x, 2)); d > 2e-2 {
		t.Errorf("logits next to the exposed output differ from the reference by %g", d)
	}
}

func TestPromoteInitializersStructure(t *testing.T) {
	c := tinyClassifier(Float32, 0, 1)
	m, b := parseClassifier(t, c)
	if err := m.PromoteInitializers([]string{"fc.weight", "missing"}); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("promoting an unknown name: %v", err)
	}
	if out, _ := m.Marshal(); !bytes.Equal(out, b) {
		t.Error("a refused promotion changed the model")
	}
	for range 2 { // promoting twice adds the input once
		if err := m.PromoteInitializers([]string{"fc.weight"}); err != nil {
			t.Fatal(err)
		}
	}
	m = reparse(t, m)
	all, err := m.valueInfos(graphInput)
	if err != nil {
		t.Fatal(err)
	}
	want := []ValueInfo{
		{Name: ClassifierInput, ElemType: Float32, Dims: []Dim{{Param: "N"}, {Value: 2}, {Value: 5}, {Value: 4}}},
		{Name: "fc.weight", ElemType: Float32, Dims: fixedDims(4, 3)},
	}
	if !equalValueInfos(all, want) || m.IRVersion() != 8 || len(m.Inputs()) != 1 {
		t.Errorf("graph inputs %+v (IR %d), want %+v", all, m.IRVersion(), want)
	}

	ir3, err := Parse(ir3Model(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ir3.PromoteInitializers([]string{"b"}); err != nil {
		t.Fatal(err)
	}
	ir3 = reparse(t, ir3)
	if names := ir3.inputNames(); ir3.IRVersion() != 4 || !slices.Equal(names, []string{"x", "b"}) {
		t.Errorf("IR 3 model after promotion: IR %d, inputs %v; want IR 4, [x b]", ir3.IRVersion(), names)
	}
}
