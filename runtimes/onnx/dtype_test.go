package onnx

import (
	"math"
	"math/rand/v2"
	"testing"
)

// halfValue is the value of half-precision bits computed from the IEEE 754 definition in float64.
func halfValue(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0x1f:
		if mant != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	case 0:
		return sign * mant * math.Pow(2, -24)
	}
	return sign * (1 + mant/1024) * math.Pow(2, float64(exp-15))
}

func TestFloat16AllBitPatterns(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := Float16ToFloat32(h)
		want := halfValue(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(f)) || Float32ToFloat16(f)&0x7fff <= 0x7c00 {
				t.Fatalf("NaN %#04x widened to %v and back to %#04x", h, f, Float32ToFloat16(f))
			}
			continue
		}
		if float64(f) != want || math.Signbit(float64(f)) != (h&0x8000 != 0) {
			t.Fatalf("Float16ToFloat32(%#04x) = %v, want %v", h, f, want)
		}
		if back := Float32ToFloat16(f); back != h {
			t.Fatalf("Float32ToFloat16(%v) = %#04x, want %#04x", f, back, h)
		}
	}
}

func TestFloat32ToFloat16Rounding(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},                            // largest half
		{65519.99, 0x7bff},                         // just below the rounding boundary
		{65520, 0x7c00},                            // tie between 65504 and 65536 rounds to even: inf
		{1e10, 0x7c00},                             // overflow
		{float32(math.Inf(-1)), 0xfc00},            // -inf
		{1 + 1.0/2048, 0x3c00},                     // tie, even stays
		{1 + 3.0/2048, 0x3c02},                     // tie, odd rounds up
		{float32(math.Ldexp(1, -24)), 0x0001},      // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0x0000},      // tie to even (zero)
		{float32(math.Ldexp(1.5, -25)), 0x0001},    // above the tie
		{float32(math.Ldexp(3, -25)), 0x0002},      // tie 1.5 units rounds to even 2
		{float32(math.Ldexp(1023.5, -24)), 0x0400}, // largest subnormal tie rounds to smallest normal
		{float32(math.Copysign(0, -1)), 0x8000},
	} {
		if got := Float32ToFloat16(tc.in); got != tc.want {
			t.Errorf("Float32ToFloat16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	// Random values: the result must be a nearest half (ties to the even one).
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		x := float32(math.Ldexp(rng.Float64()*2-1, rng.IntN(44)-28)) // spans subnormals to overflow
		h := Float32ToFloat16(x)
		v := halfValue(h)
		if math.IsInf(v, 0) {
			if math.Abs(float64(x)) < 65520 {
				t.Fatalf("%g rounded to infinity", x)
			}
			continue
		}
		for _, nb := range []uint16{h - 1, h + 1} {
			if nb&0x7fff > 0x7bff || (nb^h)&0x8000 != 0 {
				continue
			}
			d, dn := math.Abs(float64(x)-v), math.Abs(float64(x)-halfValue(nb))
			if dn < d || (dn == d && h&1 == 1) {
				t.Fatalf("Float32ToFloat16(%g) = %#04x (%g); %#04x (%g) is nearer or the even tie", x, h, v, nb, halfValue(nb))
			}
		}
	}
}

func TestBFloat16(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{-1, 0xbf80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81}, // above the tie
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // max float32 rounds to inf
	} {
		if got := Float32ToBFloat16(tc.in); got != tc.want {
			t.Errorf("Float32ToBFloat16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	for i := 0; i < 1<<16; i++ {
		f := BFloat16ToFloat32(uint16(i))
		if math.IsNaN(float64(f)) {
			if !math.IsNaN(float64(BFloat16ToFloat32(Float32ToBFloat16(f)))) {
				t.Fatalf("NaN %#04x lost", i)
			}
			continue
		}
		if got := Float32ToBFloat16(f); got != uint16(i) {
			t.Fatalf("bfloat16 %#04x → %g → %#04x", i, f, got)
		}
	}
}

func TestDTypeString(t *testing.T) {
	for _, tc := range []struct {
		d    DType
		want string
		size int
	}{
		{Float32, "float32", 4}, {Float16, "float16", 2}, {BFloat16, "bfloat16", 2},
		{Float64, "float64", 8}, {Int64, "int64", 8}, {Bool, "bool", 1}, {DType(99), "dtype(99)", 0},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("DType(%d).String() = %q, want %q", int32(tc.d), got, tc.want)
		}
		if got := tc.d.Size(); got != tc.size {
			t.Errorf("%s.Size() = %d, want %d", tc.d, got, tc.size)
		}
	}
}
