package fourier

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

func randomComplex(rng *rand.Rand, n int) []complex128 {
	x := make([]complex128, n)
	for i := range x {
		x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
	}
	return x
}

// naiveDFT2 is the 2-D DFT by its definition (sign −1 forward, +1 and 1/N inverse).
func naiveDFT2(x []complex128, h, w int, inverse bool) []complex128 {
	sign := -1.0
	if inverse {
		sign = 1
	}
	out := make([]complex128, h*w)
	for ky := 0; ky < h; ky++ {
		for kx := 0; kx < w; kx++ {
			var s complex128
			for y := 0; y < h; y++ {
				for x0 := 0; x0 < w; x0++ {
					ph := sign * 2 * math.Pi * (float64(ky*y%h)/float64(h) + float64(kx*x0%w)/float64(w))
					s += x[y*w+x0] * cmplx.Rect(1, ph)
				}
			}
			if inverse {
				s /= complex(float64(h*w), 0)
			}
			out[ky*w+kx] = s
		}
	}
	return out
}

func TestPlan2DMatchesTheDefinitionAndRoundTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ h, w int }{{1, 1}, {6, 10}, {7, 5}, {16, 16}, {224, 224}, {3, 224}} {
		x := randomComplex(rng, tc.h*tc.w)
		p := NewPlan2D(tc.h, tc.w)
		got := append([]complex128(nil), x...)
		p.Forward(got)
		if tc.h*tc.w <= 256 {
			if d := maxDiff(got, naiveDFT2(x, tc.h, tc.w, false)); d > 1e-9 {
				t.Errorf("%dx%d: forward differs from the 2-D DFT by %g", tc.h, tc.w, d)
			}
		}
		p.Inverse(got)
		if d := maxDiff(got, x); d > 1e-12 {
			t.Errorf("%dx%d: Inverse(Forward(x)) differs from x by %g", tc.h, tc.w, d)
		}
	}
}

func TestShiftFollowsNumpy(t *testing.T) {
	// numpy.fft.fftshift(np.arange(n)) for n = 5 and 6, and the 2-D position of the zero frequency.
	for _, tc := range []struct {
		n    int
		want []int
	}{{5, []int{3, 4, 0, 1, 2}}, {6, []int{3, 4, 5, 0, 1, 2}}} {
		src := make([]int, tc.n)
		for i := range src {
			src[i] = i
		}
		got := make([]int, tc.n)
		Shift(got, src, 1, tc.n)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("fftshift(arange(%d)) = %v, numpy gives %v", tc.n, got, tc.want)
			}
		}
		back := make([]int, tc.n)
		Unshift(back, got, 1, tc.n)
		for i := range back {
			if back[i] != i {
				t.Fatalf("ifftshift(fftshift(arange(%d))) = %v", tc.n, back)
			}
		}
	}
	for _, tc := range []struct{ h, w, dcY, dcX int }{{224, 224, 112, 112}, {7, 6, 3, 3}, {5, 9, 2, 4}} {
		src := make([]float64, tc.h*tc.w)
		src[0] = 1 // the zero frequency in FFT layout
		dst := make([]float64, len(src))
		Shift(dst, src, tc.h, tc.w)
		if dst[tc.dcY*tc.w+tc.dcX] != 1 {
			t.Errorf("%dx%d: the zero frequency is not at (%d,%d) after Shift", tc.h, tc.w, tc.dcY, tc.dcX)
		}
	}
}

func TestBoxGeometryFollowsTheReference(t *testing.T) {
	// Half-sizes int(c'·(n//2)) as the reference computes them in float64.
	for _, tc := range []struct {
		h, w   int
		c      float64
		pass   Pass
		ry, rx int
	}{
		{224, 224, 0.1, LowPass, 11, 11},     // 11.2
		{224, 224, 0.3, LowPass, 33, 33},     // 33.6
		{224, 224, 0.7, HighPass, 33, 33},    // (1-0.7)·112 = 33.600000000000001
		{224, 224, 0.5, LowPass, 56, 56},     // exact
		{224, 224, 0.01, LowPass, 1, 1},      // 1.12
		{224, 224, 0.99, HighPass, 1, 1},     // 0.01000000000000001·112
		{224, 224, 1, LowPass, 112, 112},     // the whole spectrum
		{224, 224, 0, HighPass, 112, 112},    // the whole spectrum zeroed
		{224, 224, 0, LowPass, 0, 0},         // empty box
		{224, 160, 0.25, LowPass, 28, 20},    // non-square
		{7, 7, 1, LowPass, 3, 3},             // odd size: box [0,6) misses the last row/column
		{224, 224, 0.008, LowPass, 0, 0},     // 0.896: the box does not reach the zero frequency
		{224, 224, 0.9, HighPass, 11, 11},    // 0.09999999999999998·112 = 11.199999999999998
		{224, 224, 0.2, HighPass, 89, 89},    // 0.8·112 = 89.60000000000001
		{224, 224, 0.6, LowPass, 67, 67},     // 67.2
		{224, 224, 0.4, HighPass, 67, 67},    // 0.6·112
		{224, 224, 0.8999, HighPass, 11, 11}, // 0.1001·112 = 11.2112
	} {
		ry, rx := HalfSizes(tc.h, tc.w, tc.c, tc.pass)
		if ry != tc.ry || rx != tc.rx {
			t.Errorf("%s c=%v %dx%d: half-sizes (%d,%d), want (%d,%d)", tc.pass, tc.c, tc.h, tc.w, ry, rx, tc.ry, tc.rx)
			continue
		}
		m := Box(tc.h, tc.w, tc.c, tc.pass)
		cy, cx := tc.h/2, tc.w/2
		kept := 0
		for y := 0; y < tc.h; y++ {
			for x := 0; x < tc.w; x++ {
				in := y >= cy-ry && y < cy+ry && x >= cx-rx && x < cx+rx
				want := 0.0
				if in == (tc.pass == LowPass) {
					want = 1
				}
				if m[y*tc.w+x] != want {
					t.Fatalf("%s c=%v: mask(%d,%d) = %v, want %v", tc.pass, tc.c, y, x, m[y*tc.w+x], want)
				}
				kept += int(m[y*tc.w+x])
			}
		}
		box := 4 * ry * rx
		if want := map[Pass]int{LowPass: box, HighPass: tc.h*tc.w - box}[tc.pass]; kept != want {
			t.Errorf("%s c=%v: mask keeps %d frequencies, want %d", tc.pass, tc.c, kept, want)
		}
	}
	// Spot checks of the c = 0.5 low-pass box at 224: shifted rows/columns 56..167 kept.
	m := Box(224, 224, 0.5, LowPass)
	for _, p := range []struct {
		y, x int
		want float64
	}{{56, 56, 1}, {167, 167, 1}, {55, 100, 0}, {168, 100, 0}, {100, 168, 0}, {112, 112, 1}} {
		if m[p.y*224+p.x] != p.want {
			t.Errorf("c=0.5 low-pass mask(%d,%d) = %v, want %v", p.y, p.x, m[p.y*224+p.x], p.want)
		}
	}
}

// referenceFilter is the reference written out plainly: per channel 2-D DFT by definition,
// fftshift, box mask, ifftshift, inverse DFT, real part, clip.
func referenceFilter(src []float32, h, w int, c float64, pass Pass) []float32 {
	n := h * w
	out := make([]float32, len(src))
	box := Box(h, w, c, pass)
	for ch := 0; ch < len(src)/n; ch++ {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(float64(src[ch*n+i]), 0)
		}
		spec := naiveDFT2(x, h, w, false)
		shifted := make([]complex128, n)
		Shift(shifted, spec, h, w)
		for i := range shifted {
			shifted[i] *= complex(box[i], 0)
		}
		Unshift(spec, shifted, h, w)
		y := naiveDFT2(spec, h, w, true)
		for i, v := range y {
			out[ch*n+i] = clip01(real(v))
		}
	}
	return out
}

func TestFilterMatchesThePlainReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		h, w, ch int
		c        float64
		pass     Pass
	}{
		{12, 10, 3, 0.5, LowPass}, {12, 10, 3, 0.5, HighPass}, {12, 10, 3, 0.2, LowPass},
		{12, 10, 3, 0.8, HighPass}, {9, 7, 3, 0.6, LowPass}, {9, 7, 2, 0.3, HighPass},
		{8, 8, 1, 0.4, LowPass}, {8, 8, 3, 1, LowPass}, {8, 8, 3, 0, LowPass}, {8, 8, 3, 0, HighPass},
		{8, 8, 3, 1, HighPass}, {7, 7, 3, 1, LowPass},
	} {
		src := make([]float32, tc.ch*tc.h*tc.w)
		for i := range src {
			src[i] = rng.Float32()
		}
		f, err := NewFilter(tc.h, tc.w, tc.c, tc.pass)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(src))
		if err := f.Apply(got, src); err != nil {
			t.Fatal(err)
		}
		want := referenceFilter(src, tc.h, tc.w, tc.c, tc.pass)
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("%s c=%v %dx%dx%d: value %d = %v, reference %v", tc.pass, tc.c, tc.ch, tc.h, tc.w, i, got[i], want[i])
			}
		}
	}
}

func TestFilterKnownAnswers(t *testing.T) {
	const h, w = 224, 224
	constant := func(v float32) []float32 {
		x := make([]float32, 3*h*w)
		for i := range x {
			x[i] = v
		}
		return x
	}
	for _, tc := range []struct {
		name string
		c    float64
		pass Pass
		in   float32
		want float32
	}{
		{"low-pass keeps a constant when the box holds the zero frequency", 0.01, LowPass, 0.7, 0.7},
		{"low-pass keeps a constant, wide box", 0.5, LowPass, 0.3, 0.3},
		{"low-pass c=1 is the identity", 1, LowPass, 0.25, 0.25},
		{"low-pass with an empty box gives black", 0, LowPass, 0.7, 0},
		{"low-pass box too small for the zero frequency", 0.008, LowPass, 0.7, 0},
		{"high-pass removes the mean", 0.5, HighPass, 0.7, 0},
		{"high-pass c=0.99 still removes the mean", 0.99, HighPass, 0.7, 0},
		{"high-pass c=1 is the identity", 1, HighPass, 0.7, 0.7},
		{"high-pass c=0 gives black", 0, HighPass, 0.7, 0},
	} {
		f, err := NewFilter(h, w, tc.c, tc.pass)
		if err != nil {
			t.Fatal(err)
		}
		src := constant(tc.in)
		got := make([]float32, len(src))
		if err := f.Apply(got, src); err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if math.Abs(float64(v-tc.want)) > 1e-6 {
				t.Fatalf("%s: pixel %d = %v, want %v", tc.name, i, v, tc.want)
			}
		}
	}
}

// boxKernel is the inverse DFT of a box of offsets [−r, r) along one axis of length n,
// evaluated at position p: (1/n)·Σ_d e^{2πi·d·p/n}. The box is not symmetric, so it is complex.
func boxKernel(n, r, p int) complex128 {
	var s complex128
	for d := -r; d < r; d++ {
		s += cmplx.Rect(1, 2*math.Pi*float64(d*p)/float64(n))
	}
	return s / complex(float64(n), 0)
}

func TestFilterOfADeltaIsTheBoxKernel(t *testing.T) {
	// A unit impulse at the origin has a flat spectrum, so the unclipped low-pass output is the
	// real part of the separable box kernel Ky(y)·Kx(x), and the high-pass output is the impulse
	// minus it.
	const h, w = 16, 20
	delta := make([]float32, h*w)
	delta[0] = 1
	for _, tc := range []struct {
		c    float64
		pass Pass
	}{{0.5, LowPass}, {0.25, LowPass}, {0.3, HighPass}, {0.75, HighPass}} {
		f, err := NewFilter(h, w, tc.c, tc.pass)
		if err != nil {
			t.Fatal(err)
		}
		f.pair(delta, nil)
		ry, rx := HalfSizes(h, w, tc.c, tc.pass)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				want := real(boxKernel(h, ry, y) * boxKernel(w, rx, x))
				if tc.pass == HighPass {
					want = float64(delta[y*w+x]) - want
				}
				if got := real(f.buf[y*w+x]); math.Abs(got-want) > 1e-12 {
					t.Fatalf("%s c=%v: output(%d,%d) = %v, want %v", tc.pass, tc.c, y, x, got, want)
				}
			}
		}
		if tc.pass == LowPass {
			if got, want := real(f.buf[0]), float64(4*ry*rx)/float64(h*w); math.Abs(got-want) > 1e-12 {
				t.Errorf("low-pass c=%v: output at the impulse %v, want 4·ry·rx/(H·W) = %v", tc.c, got, want)
			}
		}
	}
}

func TestLowAndHighPassOfTheSameBoxAddUp(t *testing.T) {
	// low-pass(c) keeps exactly what high-pass(1−c) removes (same box), so unclipped they sum to x.
	const h, w = 32, 24
	rng := rand.New(rand.NewPCG(11, 12))
	x := make([]float32, h*w)
	for i := range x {
		x[i] = rng.Float32()
	}
	for _, c := range []float64{0.25, 0.5, 0.75} {
		lo, _ := NewFilter(h, w, c, LowPass)
		hi, _ := NewFilter(h, w, 1-c, HighPass)
		if r1, _ := HalfSizes(h, w, c, LowPass); r1 != func() int { r, _ := HalfSizes(h, w, 1-c, HighPass); return r }() {
			t.Fatalf("c=%v: the boxes differ", c)
		}
		lo.pair(x, nil)
		hi.pair(x, nil)
		for i := range x {
			if s := real(lo.buf[i]) + real(hi.buf[i]); math.Abs(s-float64(x[i])) > 1e-12 {
				t.Fatalf("c=%v: low + high at %d = %v, want %v", c, i, s, x[i])
			}
		}
	}
}

func TestNewFilterRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		h, w int
		c    float64
	}{{8, 8, -0.1}, {8, 8, 1.5}, {0, 8, 0.5}} {
		if _, err := NewFilter(tc.h, tc.w, tc.c, LowPass); err == nil {
			t.Errorf("NewFilter(%d,%d,%v) accepted", tc.h, tc.w, tc.c)
		}
	}
	f, _ := NewFilter(8, 8, 0.5, LowPass)
	if err := f.Apply(make([]float32, 65), make([]float32, 65)); err == nil {
		t.Error("Apply accepted 65 values for 8×8 channels")
	}
}
