package onnx

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// typedTensor builds a TensorProto that stores vals in the typed field of its type (float_data,
// int32_data, double_data), packed or as one field per value.
func typedTensor(name string, dt DType, dims []int64, vals []float32, packed bool) *message {
	t := newMessage(packedVarints(tensorDims, dims), varintField(tensorDataType, int64(dt)), stringField(tensorName, name))
	var p []byte
	for _, v := range vals {
		switch dt {
		case Float32:
			if packed {
				p = protowire.AppendFixed32(p, math.Float32bits(v))
			} else {
				f := field{num: tensorFloatData, typ: protowire.Fixed32Type, u: uint64(math.Float32bits(v))}
				f.enc = protowire.AppendFixed32(protowire.AppendTag(nil, f.num, f.typ), uint32(f.u))
				t.fields = append(t.fields, f)
			}
		case Float64:
			p = protowire.AppendFixed64(p, math.Float64bits(float64(v)))
		case Float16:
			p = protowire.AppendVarint(p, uint64(Float32ToFloat16(v)))
		case BFloat16:
			p = protowire.AppendVarint(p, uint64(Float32ToBFloat16(v)))
		}
	}
	num := map[DType]protowire.Number{Float32: tensorFloatData, Float64: tensorDoubleData, Float16: tensorInt32Data, BFloat16: tensorInt32Data}[dt]
	if p != nil {
		t.fields = append(t.fields, bytesField(num, p))
	}
	return t
}

func TestInitializerStorageFormsAndLosslessRewrite(t *testing.T) {
	// Exactly representable in float16 and bfloat16 alike.
	stored := []float32{0.5, -1.25, 3, 0.0078125, float32(math.Copysign(0, -1)), 96}
	replaced := []float32{1.5, -0.375, 2048, 0.001953125, -7, 0.25}
	dims := []int64{2, 3}
	for _, tc := range []struct {
		name   string
		tensor func() *message
		dt     DType
	}{
		{"float32 raw_data", func() *message { return mustTensor(t, "w", Float32, dims, stored) }, Float32},
		{"float32 packed float_data", func() *message { return typedTensor("w", Float32, dims, stored, true) }, Float32},
		{"float32 unpacked float_data", func() *message { return typedTensor("w", Float32, dims, stored, false) }, Float32},
		{"float16 raw_data", func() *message { return mustTensor(t, "w", Float16, dims, stored) }, Float16},
		{"float16 in int32_data", func() *message { return typedTensor("w", Float16, dims, stored, true) }, Float16},
		{"bfloat16 raw_data", func() *message { return mustTensor(t, "w", BFloat16, dims, stored) }, BFloat16},
		{"bfloat16 in int32_data", func() *message { return typedTensor("w", BFloat16, dims, stored, true) }, BFloat16},
		{"float64 raw_data", func() *message { return mustTensor(t, "w", Float64, dims, stored) }, Float64},
		{"float64 double_data", func() *message { return typedTensor("w", Float64, dims, stored, true) }, Float64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := mustTensor(t, "other", Float32, []int64{2}, []float32{7, 8})
			otherEnc, err := other.marshal()
			if err != nil {
				t.Fatal(err)
			}
			data := encodeModel(t, graphSpec{inits: []*message{tc.tensor(), other}})
			m, err := Parse(data, "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Initializer("w")
			if err != nil {
				t.Fatal(err)
			}
			if !sameBits(got.Float32, stored) || got.DType != tc.dt || !slices.Equal(got.Dims, dims) {
				t.Fatalf("read %s %v %v, want %s %v %v", got.DType, got.Dims, got.Float32, tc.dt, dims, stored)
			}
			if err := m.SetInitializer("w", dims, replaced); err != nil {
				t.Fatal(err)
			}
			out := mustMarshal(t, m)
			if !bytes.Contains(out, otherEnc) {
				t.Error("the untouched initializer was re-encoded")
			}
			m2, err := Parse(out, "")
			if err != nil {
				t.Fatal(err)
			}
			back, err := m2.Initializer("w")
			if err != nil {
				t.Fatal(err)
			}
			if !sameBits(back.Float32, replaced) || back.DType != tc.dt {
				t.Errorf("after SetInitializer read %s %v, want %s %v", back.DType, back.Float32, tc.dt, replaced)
			}
			w := m2.inits["w"]
			if raw := w.bytesOf(tensorRawData); len(raw) != len(replaced)*tc.dt.Size() ||
				w.has(tensorFloatData) || w.has(tensorInt32Data) || w.has(tensorDoubleData) {
				t.Errorf("rewritten tensor: %d raw bytes, typed fields left: float %v int32 %v double %v",
					len(raw), w.has(tensorFloatData), w.has(tensorInt32Data), w.has(tensorDoubleData))
			}
		})
	}
}

// sameBits compares float32 slices bit for bit (so -0 differs from 0).
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func TestSetInitializerRoundsAndRefuses(t *testing.T) {
	data := encodeModel(t, graphSpec{inits: []*message{
		mustTensor(t, "h", Float16, []int64{2}, []float32{1, 2}),
		newMessage(packedVarints(tensorDims, []int64{2}), varintField(tensorDataType, int64(Int64)), stringField(tensorName, "shape"),
			bytesField(tensorRawData, make([]byte, 16))),
	}})
	m, err := Parse(data, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetInitializer("h", []int64{2}, []float32{0.1, 65519}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Initializer("h")
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0.0999755859375, 65504}; !slices.Equal(got.Float32, want) {
		t.Errorf("float16 rounding: %v, want %v", got.Float32, want)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"shape change", m.SetInitializer("h", []int64{1, 2}, []float32{1, 2}), "shape [1 2] differs from the stored [2]"},
		{"value count", m.SetInitializer("h", []int64{2}, []float32{1}), "1 values for shape [2]"},
		{"unknown", m.SetInitializer("nope", []int64{2}, []float32{1, 2}), `"nope": not in the graph`},
		{"integer write", m.SetInitializer("shape", []int64{2}, []float32{1, 2}), "int64 is not a floating-point type"},
		{"integer read", func() error { _, err := m.Initializer("shape"); return err }(), "int64 is not a floating-point type"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, tc.err, tc.want)
		}
	}
}

// externalTensor builds an external-data TensorProto.
func externalTensor(name string, dims []int64, location string, offset, length int64) *message {
	entry := func(k, v string) field {
		return messageField(tensorExternalData, newMessage(stringField(entryKey, k), stringField(entryValue, v)))
	}
	t := newMessage(packedVarints(tensorDims, dims), varintField(tensorDataType, int64(Float32)), stringField(tensorName, name),
		entry("location", location), entry("offset", strconv.FormatInt(offset, 10)))
	if length >= 0 {
		t.fields = append(t.fields, entry("length", strconv.FormatInt(length, 10)))
	}
	t.fields = append(t.fields, varintField(tensorDataLocation, int64(dataLocationExt)))
	return t
}

func TestExternalData(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "model")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	vals := []float32{1.5, -2, 0.25, 8}
	blob := make([]byte, 16, 32) // 16 bytes of padding, then the tensor
	for _, v := range vals {
		blob = binary.LittleEndian.AppendUint32(blob, math.Float32bits(v))
	}
	for _, p := range []string{filepath.Join(dir, "weights.bin"), filepath.Join(dir, "sub", "w.bin"), filepath.Join(root, "outside.bin")} {
		if err := os.WriteFile(p, blob, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "outside.bin"), filepath.Join(dir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		location string
		length   int64
		want     string // "" when it must load
	}{
		{"inside", "weights.bin", 16, ""},
		{"in a sub-folder, no length", "sub/w.bin", -1, ""},
		{"parent folder", "../outside.bin", 16, `initializer "ext": external data location "../outside.bin" escapes the model folder`},
		{"dot-dot inside the path", "sub/../../outside.bin", 16, `initializer "ext": external data location "sub/../../outside.bin" escapes`},
		{"absolute", filepath.Join(root, "outside.bin"), 16, `initializer "ext": external data location "` + filepath.Join(root, "outside.bin") + `" is absolute`},
		{"symlink out of the folder", "link.bin", 16, `initializer "ext": external data "link.bin"`},
		{"missing file", "missing.bin", 16, `initializer "ext": external data "missing.bin"`},
		{"range past the end", "weights.bin", 64, `the tensor ends at 80`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "model.onnx")
			data := encodeModel(t, graphSpec{inits: []*message{externalTensor("ext", []int64{2, 2}, tc.location, 16, tc.length)}})
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Open(path)
			if tc.want != "" {
				if err == nil {
					m.Close()
					t.Fatalf("model with external location %q opened", tc.location)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			got, err := m.Initializer("ext")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Float32, vals) {
				t.Errorf("external values %v, want %v", got.Float32, vals)
			}
			// Written elsewhere the relative location would break: refused until the data is inline.
			elsewhere := filepath.Join(root, "copy.onnx")
			if err := m.WriteFile(elsewhere); err == nil || !strings.Contains(err.Error(), `tensor "ext" keeps its data in files of`) {
				t.Errorf("WriteFile to another folder: %v", err)
			}
			if err := m.WriteFile(filepath.Join(dir, "same-folder.onnx")); err != nil {
				t.Errorf("WriteFile in the model folder: %v", err)
			}
			if err := m.SetInitializer("ext", []int64{2, 2}, []float32{4, 3, 2, 1}); err != nil {
				t.Fatal(err)
			}
			if err := m.WriteFile(elsewhere); err != nil {
				t.Fatalf("WriteFile after inlining: %v", err)
			}
			copied, err := os.ReadFile(elsewhere)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := Parse(copied, "")
			if err != nil {
				t.Fatal(err)
			}
			inline, err := m2.Initializer("ext")
			if err != nil || !slices.Equal(inline.Float32, []float32{4, 3, 2, 1}) || isExternal(m2.inits["ext"]) {
				t.Errorf("inlined tensor: %v, %v", inline, err)
			}
		})
	}
	// Without a folder, external data cannot be read (but the model parses).
	m, err := Parse(encodeModel(t, graphSpec{inits: []*message{externalTensor("ext", []int64{2, 2}, "weights.bin", 16, 16)}}), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Initializer("ext"); err == nil || !strings.Contains(err.Error(), `"ext"`) || !strings.Contains(err.Error(), "without a folder") {
		t.Errorf("reading external data without a folder: %v", err)
	}
}
