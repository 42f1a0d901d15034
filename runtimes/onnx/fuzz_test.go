package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzReadModel feeds arbitrary bytes to the model reader: it must refuse them or yield a model
// whose accessors, initializers (inline or external, in the model's folder only) and re-encoding
// all work without a panic or an allocation beyond what the input and its files hold. Plain
// `go test` runs the committed corpus (testdata/fuzz/FuzzReadModel) and the seeds below;
// `go test -fuzz FuzzReadModel` explores.
func FuzzReadModel(f *testing.F) {
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 64), 0o644); err != nil {
		f.Fatal(err)
	}
	tiny, err := Classifier{DType: Float16, Channels: 3, Height: 4, Width: 4, Filters: 2, Kernel: 3, Classes: 3,
		ConvWeight: make([]float32, 2*3*3*3), ConvBias: []float32{1, 2}, FCWeight: make([]float32, 6), FCBias: []float32{0, 1, 2}}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tiny)
	f.Add(tiny[:len(tiny)/2])
	f.Add([]byte{})
	for _, seed := range adversarialModels(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data, dir)
		if err != nil {
			return
		}
		m.IRVersion()
		m.Opsets()
		m.OpsetVersion()
		ins, outs := m.Inputs(), m.Outputs()
		m.Nodes()
		inits := m.Initializers()
		for _, ti := range inits {
			if tv, err := m.Initializer(ti.Name); err == nil && int64(len(tv.Float32)) != ti.Elements() {
				t.Fatalf("initializer %s: %d values for shape %v", ti.Name, len(tv.Float32), ti.Dims)
			}
		}
		enc, err := m.Marshal()
		if err != nil {
			return
		}
		back, err := Parse(enc, dir)
		if err != nil {
			t.Fatalf("the reader refuses its own encoding: %v", err)
		}
		if !slices.EqualFunc(back.Inputs(), ins, func(a, b ValueInfo) bool { return a.Name == b.Name }) ||
			!slices.EqualFunc(back.Outputs(), outs, func(a, b ValueInfo) bool { return a.Name == b.Name }) ||
			len(back.Initializers()) != len(inits) {
			t.Fatal("re-encoding changed the graph's inputs, outputs or initializers")
		}
	})
}

// adversarialModels are well-formed models whose tensor headers promise more than they hold:
// shapes whose element count overflows or runs to terabytes, with little or no data inline or
// in the external file beside the model.
func adversarialModels(tb testing.TB) [][]byte {
	huge := []int64{1 << 40, 1 << 40} // 2^80 elements: overflows int64
	big := []int64{1 << 20, 1 << 20}  // 2^40 elements, 4 TiB of float32
	header := func(dims []int64, dt DType, extra ...field) *message {
		return newMessage(append([]field{packedVarints(tensorDims, dims), varintField(tensorDataType, int64(dt)), stringField(tensorName, "w")}, extra...)...)
	}
	var out [][]byte
	for _, init := range []*message{
		header(huge, Float32),
		header(big, Float32),
		header(big, Float16),
		header(big, Float32, bytesField(tensorRawData, make([]byte, 16))),
		header(huge, Float32, bytesField(tensorRawData, make([]byte, 16))),
		externalTensor("w", big, "w.bin", 0, -1),
		externalTensor("w", huge, "w.bin", 0, -1),
		externalTensor("w", []int64{4}, "w.bin", 1<<62, -1),
		externalTensor("w", []int64{1 << 60}, "w.bin", 0, 1<<62),
	} {
		out = append(out, encodeModel(tb, graphSpec{inits: []*message{init}}))
	}
	return out
}

// TestReadModelRefusesImpossibleTensors: a header promising more elements than its data (inline
// or external) holds is an error, found before anything of that size is allocated; such models
// ran the reader out of memory.
func TestReadModelRefusesImpossibleTensors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 64), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, data := range adversarialModels(t) {
		m, err := Parse(data, dir)
		if err != nil {
			continue
		}
		if tv, err := m.Initializer("w"); err == nil {
			t.Errorf("model %d: initializer of shape %v decoded to %d values", i, tv.Dims, len(tv.Float32))
		}
	}
}
