package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// TensorInfo describes an initializer without decoding its values.
type TensorInfo struct {
	Name  string
	DType DType
	Dims  []int64
}

// Elements is the number of values: the product of Dims (1 for a scalar).
func (t TensorInfo) Elements() int64 { return product(t.Dims) }

// Tensor is an initializer decoded to float32, whatever its stored floating-point type.
type Tensor struct {
	TensorInfo
	Float32 []float32 // row-major values
}

// maxElements bounds one tensor's element count (2^36: 256 GiB of float32, beyond any model this
// package reads); a header promising more is refused before anything is allocated for it.
const maxElements = 1 << 36

// product multiplies dims (1 for none).
func product(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// tensorHeader reads name, type and shape of a TensorProto and refuses what this package cannot store.
func tensorHeader(t *message) (TensorInfo, error) {
	dims, err := t.varints(tensorDims)
	if err != nil {
		return TensorInfo{}, err
	}
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return TensorInfo{}, fmt.Errorf("negative dimension in %v", dims)
		}
		if d > 0 && n > maxElements/d {
			return TensorInfo{}, fmt.Errorf("shape %v has more than %d elements", dims, int64(maxElements))
		}
		n *= d
	}
	if t.has(tensorSegment) {
		return TensorInfo{}, errors.New("segmented tensors are not supported")
	}
	return TensorInfo{Name: t.str(tensorName), DType: DType(t.int(tensorDataType)), Dims: dims}, nil
}

// Initializers lists the graph's initializers in graph order without decoding their values.
func (m *Model) Initializers() []TensorInfo {
	out := make([]TensorInfo, len(m.names))
	for i, name := range m.names {
		out[i], _ = tensorHeader(m.inits[name]) // checked by Parse
	}
	return out
}

// Initializer decodes the floating-point initializer name to float32, reading external data if needed.
func (m *Model) Initializer(name string) (*Tensor, error) {
	t, ok := m.inits[name]
	if !ok {
		return nil, fmt.Errorf("initializer %q: not in the graph", name)
	}
	info, _ := tensorHeader(t) // checked by Parse
	if !info.DType.IsFloat() {
		return nil, fmt.Errorf("initializer %q: %s is not a floating-point type", name, info.DType)
	}
	vals, err := m.decodeFloats(t, info)
	if err != nil {
		return nil, fmt.Errorf("initializer %q (%s %v): %w", name, info.DType, info.Dims, err)
	}
	return &Tensor{TensorInfo: info, Float32: vals}, nil
}

// decodeFloats converts the tensor's stored values, wherever they are, to float32.
func (m *Model) decodeFloats(t *message, info TensorInfo) ([]float32, error) {
	n := info.Elements()
	if isExternal(t) {
		raw, err := m.readExternal(t, n*int64(info.DType.Size()))
		if err != nil {
			return nil, err
		}
		return decodeRaw(raw, info.DType, n)
	}
	if t.has(tensorRawData) {
		return decodeRaw(t.bytesOf(tensorRawData), info.DType, n)
	}
	out := make([]float32, 0, min(n, 1<<16)) // grows with the values the message holds, not with what its header claims
	var err error
	switch info.DType {
	case Float32:
		err = eachFixed(t, tensorFloatData, 4, func(u uint64) { out = append(out, math.Float32frombits(uint32(u))) })
	case Float64:
		err = eachFixed(t, tensorDoubleData, 8, func(u uint64) { out = append(out, float32(math.Float64frombits(u))) })
	case Float16, BFloat16:
		widen := Float16ToFloat32
		if info.DType == BFloat16 {
			widen = BFloat16ToFloat32
		}
		var bits []int64
		bits, err = t.varints(tensorInt32Data)
		for _, b := range bits {
			out = append(out, widen(uint16(b)))
		}
	}
	if err != nil {
		return nil, err
	}
	if int64(len(out)) != n {
		return nil, fmt.Errorf("%d stored values for %d elements", len(out), n)
	}
	return out, nil
}

// eachFixed calls fn for every value of the repeated fixed-width field num, packed or not.
func eachFixed(t *message, num protowire.Number, width int, fn func(uint64)) error {
	for _, f := range t.fields {
		if f.num != num {
			continue
		}
		switch {
		case f.typ == protowire.BytesType:
			p := f.payload()
			if len(p)%width != 0 {
				return fmt.Errorf("packed field %d: %d bytes are not a multiple of %d", num, len(p), width)
			}
			for b := p; len(b) > 0; b = b[width:] {
				if width == 4 {
					fn(uint64(binary.LittleEndian.Uint32(b)))
				} else {
					fn(binary.LittleEndian.Uint64(b))
				}
			}
		case width == 4 && f.typ == protowire.Fixed32Type, width == 8 && f.typ == protowire.Fixed64Type:
			fn(f.u)
		default:
			return fmt.Errorf("field %d: wire type %d where %d-byte values were expected", num, f.typ, width)
		}
	}
	return nil
}

// decodeRaw converts little-endian raw_data of a floating-point type to float32.
func decodeRaw(raw []byte, dt DType, n int64) ([]float32, error) {
	size := int64(dt.Size())
	if int64(len(raw)) != n*size {
		return nil, fmt.Errorf("raw data has %d bytes, %d elements need %d", len(raw), n, n*size)
	}
	out := make([]float32, n)
	switch dt {
	case Float32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case Float16:
		for i := range out {
			out[i] = Float16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case BFloat16:
		for i := range out {
			out[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case Float64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	default:
		return nil, fmt.Errorf("%s is not a floating-point type", dt)
	}
	return out, nil
}

// encodeRaw converts float32 values to little-endian raw_data of a floating-point type
// (float16 and bfloat16 rounded to nearest, ties to even).
func encodeRaw(vals []float32, dt DType) ([]byte, error) {
	raw := make([]byte, len(vals)*dt.Size())
	switch dt {
	case Float32:
		for i, v := range vals {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case Float16:
		for i, v := range vals {
			binary.LittleEndian.PutUint16(raw[2*i:], Float32ToFloat16(v))
		}
	case BFloat16:
		for i, v := range vals {
			binary.LittleEndian.PutUint16(raw[2*i:], Float32ToBFloat16(v))
		}
	case Float64:
		for i, v := range vals {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(float64(v)))
		}
	default:
		return nil, fmt.Errorf("%s is not a floating-point type", dt)
	}
	return raw, nil
}

// SetInitializer replaces the values of initializer name, stored as raw_data in the tensor's own
// type. dims must equal the stored shape. External data of the tensor is replaced by inline data.
func (m *Model) SetInitializer(name string, dims []int64, values []float32) error {
	t, ok := m.inits[name]
	if !ok {
		return fmt.Errorf("set initializer %q: not in the graph", name)
	}
	info, _ := tensorHeader(t) // checked by Parse
	if !slices.Equal(dims, info.Dims) {
		return fmt.Errorf("set initializer %q: shape %v differs from the stored %v", name, dims, info.Dims)
	}
	if int64(len(values)) != info.Elements() {
		return fmt.Errorf("set initializer %q: %d values for shape %v", name, len(values), dims)
	}
	raw, err := encodeRaw(values, info.DType)
	if err != nil {
		return fmt.Errorf("set initializer %q: %w", name, err)
	}
	for _, num := range []protowire.Number{tensorFloatData, tensorInt32Data, tensorInt64Data,
		tensorDoubleData, tensorUint64Data, tensorExternalData, tensorDataLocation} {
		t.remove(num)
	}
	t.set(bytesField(tensorRawData, raw))
	return nil
}

// isExternal reports whether TensorProto.data_location is EXTERNAL.
func isExternal(t *message) bool {
	i := t.last(tensorDataLocation)
	return i >= 0 && t.fields[i].u == dataLocationExt
}

// externalNames lists initializers whose data still lives in external files.
func (m *Model) externalNames() []string {
	var out []string
	for _, name := range m.names {
		if isExternal(m.inits[name]) {
			out = append(out, name)
		}
	}
	return out
}

// externalRef is a parsed TensorProto.external_data list.
type externalRef struct {
	location       string
	offset, length int64 // length -1: to the end of the file
}

// externalRefOf reads location, offset and length of an external tensor and checks the location
// stays inside the model's folder.
func externalRefOf(t *message) (externalRef, error) {
	ref := externalRef{length: -1}
	entries, err := t.children(tensorExternalData)
	if err != nil {
		return ref, err
	}
	for _, e := range entries {
		k, v := e.str(entryKey), e.str(entryValue)
		switch k {
		case "location":
			ref.location = v
		case "offset", "length":
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil || x < 0 {
				return ref, fmt.Errorf("external_data %s %q is not a byte count", k, v)
			}
			if k == "offset" {
				ref.offset = x
			} else {
				ref.length = x
			}
		}
	}
	loc := ref.location
	switch {
	case loc == "":
		return ref, errors.New("external_data has no location")
	case filepath.IsAbs(loc) || strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`) || filepath.VolumeName(loc) != "":
		return ref, fmt.Errorf("external data location %q is absolute; only paths inside the model folder are read", loc)
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return ref, fmt.Errorf("external data location %q escapes the model folder", loc)
	}
	ref.location = clean
	return ref, nil
}

// checkExternal validates an external tensor's location at parse time; with a folder known, the file
// must exist inside it (symbolic links included) and hold the byte range.
func (m *Model) checkExternal(name string, t *message) error {
	if !isExternal(t) {
		return nil
	}
	ref, err := externalRefOf(t)
	if err != nil {
		return fmt.Errorf("initializer %q: %w", name, err)
	}
	if m.dir == "" {
		return nil
	}
	f, err := os.OpenInRoot(m.dir, ref.location)
	if err != nil {
		return fmt.Errorf("initializer %q: external data %q in %s: %w", name, ref.location, m.dir, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("initializer %q: external data %q: %w", name, ref.location, err)
	}
	if length := max(ref.length, 0); ref.offset > st.Size() || length > st.Size()-ref.offset { // no overflowing sum
		return fmt.Errorf("initializer %q: external data %q has %d bytes, the tensor ends at %d",
			name, ref.location, st.Size(), uint64(ref.offset)+uint64(length))
	}
	return nil
}

// readExternal reads an external tensor's bytes; want is the size its type and shape require.
func (m *Model) readExternal(t *message, want int64) ([]byte, error) {
	ref, err := externalRefOf(t)
	if err != nil {
		return nil, err
	}
	if m.dir == "" {
		return nil, fmt.Errorf("external data %q: the model was parsed without a folder", ref.location)
	}
	f, err := os.OpenInRoot(m.dir, ref.location)
	if err != nil {
		return nil, fmt.Errorf("external data %q in %s: %w", ref.location, m.dir, err)
	}
	defer f.Close()
	if ref.length >= 0 && ref.length != want {
		return nil, fmt.Errorf("external data %q: length %d, the tensor needs %d bytes", ref.location, ref.length, want)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", ref.location, err)
	}
	if ref.offset > st.Size() || want > st.Size()-ref.offset {
		return nil, fmt.Errorf("external data %q has %d bytes, the tensor needs %d from offset %d", ref.location, st.Size(), want, ref.offset)
	}
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, ref.offset); err != nil {
		return nil, fmt.Errorf("external data %q at offset %d: %w", ref.location, ref.offset, err)
	}
	return buf, nil
}
