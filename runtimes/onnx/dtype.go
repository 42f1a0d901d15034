package onnx

import (
	"fmt"
	"math"
)

// DType is an ONNX tensor element type; the values are those of TensorProto.DataType in onnx.proto.
type DType int32

// Element types of onnx.proto's TensorProto.DataType.
const (
	Undefined      DType = 0  // UNDEFINED
	Float32        DType = 1  // FLOAT
	Uint8          DType = 2  // UINT8
	Int8           DType = 3  // INT8
	Uint16         DType = 4  // UINT16
	Int16          DType = 5  // INT16
	Int32          DType = 6  // INT32
	Int64          DType = 7  // INT64
	String         DType = 8  // STRING
	Bool           DType = 9  // BOOL
	Float16        DType = 10 // FLOAT16
	Float64        DType = 11 // DOUBLE
	Uint32         DType = 12 // UINT32
	Uint64         DType = 13 // UINT64
	Complex64      DType = 14 // COMPLEX64
	Complex128     DType = 15 // COMPLEX128
	BFloat16       DType = 16 // BFLOAT16
	Float8E4M3FN   DType = 17 // FLOAT8E4M3FN
	Float8E4M3FNUZ DType = 18 // FLOAT8E4M3FNUZ
	Float8E5M2     DType = 19 // FLOAT8E5M2
	Float8E5M2FNUZ DType = 20 // FLOAT8E5M2FNUZ
	Uint4          DType = 21 // UINT4
	Int4           DType = 22 // INT4
	Float4E2M1     DType = 23 // FLOAT4E2M1
)

// dtypeNames are the names String prints.
var dtypeNames = map[DType]string{
	Undefined: "undefined", Float32: "float32", Uint8: "uint8", Int8: "int8", Uint16: "uint16",
	Int16: "int16", Int32: "int32", Int64: "int64", String: "string", Bool: "bool",
	Float16: "float16", Float64: "float64", Uint32: "uint32", Uint64: "uint64",
	Complex64: "complex64", Complex128: "complex128", BFloat16: "bfloat16",
	Float8E4M3FN: "float8e4m3fn", Float8E4M3FNUZ: "float8e4m3fnuz", Float8E5M2: "float8e5m2",
	Float8E5M2FNUZ: "float8e5m2fnuz", Uint4: "uint4", Int4: "int4", Float4E2M1: "float4e2m1",
}

// String names the type the way NumPy does (float32, float16, bfloat16, int64, ...).
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// IsFloat reports whether this package converts the type to and from float32 (float32, float16, bfloat16, float64).
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float16 || d == BFloat16 || d == Float64
}

// Size is the number of bytes one element takes in raw_data, 0 for strings and sub-byte types.
func (d DType) Size() int {
	switch d {
	case Uint8, Int8, Bool, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float32, Int32, Uint32:
		return 4
	case Int64, Uint64, Float64, Complex64:
		return 8
	case Complex128:
		return 16
	}
	return 0
}

// Float16ToFloat32 widens IEEE 754 half-precision bits to float32 exactly.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN, payload kept
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// subnormal: mant·2^-24, exact in float32
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// Float32ToFloat16 narrows f to half precision with round-to-nearest-even; overflow gives ±inf, NaN stays NaN.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13) // quiet NaN, high payload bits kept
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// subnormal half (or zero): value = m·2^-24 with m = round(full·2^(e-1-13))
		if e < -10 {
			return sign // below half the smallest subnormal: rounds to zero
		}
		full := mant | 0x800000 // 24-bit significand
		shift := uint32(14 - e)
		return sign | uint16(roundShift(full, shift))
	}
	// normal: 10-bit mantissa from 23 bits; a carry out of the mantissa bumps the exponent, as it should
	return sign | uint16(uint32(e)<<10+roundShift(mant, 13))
}

// roundShift returns v >> s rounded to nearest, ties to even.
func roundShift(v, s uint32) uint32 {
	q := v >> s
	rem := v & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// BFloat16ToFloat32 widens bfloat16 bits to float32 exactly.
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 narrows f to bfloat16 with round-to-nearest-even; NaN stays NaN.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	return uint16(roundShift(b, 16))
}
