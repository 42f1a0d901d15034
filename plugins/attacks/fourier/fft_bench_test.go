package fourier

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"runtime"
	"testing"
)

// This file holds the candidate the package did not choose — a radix-2 FFT with Bluestein's
// chirp-z algorithm for other lengths — so the choice can be measured again:
//
//	go test -run XXX -bench Transform224 ./plugins/attacks/fourier

// radix2 is an iterative in-place radix-2 FFT of a power-of-two length.
type radix2 struct {
	n   int
	tw  []complex128 // e^{−2πik/n}, k < n/2
	rev []int
}

func newRadix2(n int) *radix2 {
	r := &radix2{n: n, tw: make([]complex128, n/2), rev: make([]int, n)}
	for k := range r.tw {
		r.tw[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/float64(n))
	}
	bits := 0
	for 1<<bits < n {
		bits++
	}
	for i := range r.rev {
		v := 0
		for b := 0; b < bits; b++ {
			if i&(1<<b) != 0 {
				v |= 1 << (bits - 1 - b)
			}
		}
		r.rev[i] = v
	}
	return r
}

func (r *radix2) forward(x []complex128) {
	for i, j := range r.rev {
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= r.n; size <<= 1 {
		half, step := size/2, r.n/size
		for start := 0; start < r.n; start += size {
			for k := 0; k < half; k++ {
				t := r.tw[k*step] * x[start+k+half]
				x[start+k+half] = x[start+k] - t
				x[start+k] += t
			}
		}
	}
}

func (r *radix2) inverse(x []complex128) { conjugated(x, r.forward) }

// conjugated computes the unnormalised inverse DFT with a forward one: conj(F(conj(x))).
func conjugated(x []complex128, forward func([]complex128)) {
	for i := range x {
		x[i] = cmplx.Conj(x[i])
	}
	forward(x)
	for i := range x {
		x[i] = cmplx.Conj(x[i])
	}
}

// bluestein computes a length-n DFT with three radix-2 transforms of length m ≥ 2n−1.
type bluestein struct {
	n     int
	r2    *radix2
	chirp []complex128 // e^{−iπk²/n}
	bhat  []complex128 // FFT of the conjugate chirp, wrapped to length m
	a     []complex128
}

func newBluestein(n int) *bluestein {
	m := 1
	for m < 2*n-1 {
		m <<= 1
	}
	b := &bluestein{n: n, r2: newRadix2(m), chirp: make([]complex128, n), bhat: make([]complex128, m),
		a: make([]complex128, m)}
	for k := 0; k < n; k++ {
		// k² mod 2n keeps the angle small and exact for large k.
		b.chirp[k] = cmplx.Rect(1, -math.Pi*float64((k*k)%(2*n))/float64(n))
	}
	b.bhat[0] = cmplx.Conj(b.chirp[0])
	for k := 1; k < n; k++ {
		b.bhat[k] = cmplx.Conj(b.chirp[k])
		b.bhat[m-k] = cmplx.Conj(b.chirp[k])
	}
	b.r2.forward(b.bhat)
	return b
}

func (b *bluestein) forward(x []complex128) {
	clear(b.a)
	for k := 0; k < b.n; k++ {
		b.a[k] = x[k] * b.chirp[k]
	}
	b.r2.forward(b.a)
	for i := range b.a {
		b.a[i] *= b.bhat[i]
	}
	b.r2.inverse(b.a)
	s := complex(1/float64(len(b.a)), 0)
	for k := 0; k < b.n; k++ {
		x[k] = b.a[k] * b.chirp[k] * s
	}
}

func (b *bluestein) inverse(x []complex128) { conjugated(x, b.forward) }

// ownLine picks radix-2 for powers of two and Bluestein otherwise.
func ownLine(n int) lineFFT {
	if n&(n-1) == 0 {
		return newRadix2(n)
	}
	return newBluestein(n)
}

func newOwnPlan2D(h, w int) *Plan2D { return newPlan2D(h, w, ownLine(w), ownLine(h)) }

// naiveDFT is the O(n²) definition, the yardstick for both candidates.
func naiveDFT(x []complex128) []complex128 {
	n := len(x)
	out := make([]complex128, n)
	for k := range out {
		var s complex128
		for j, v := range x {
			s += v * cmplx.Rect(1, -2*math.Pi*float64((k*j)%n)/float64(n))
		}
		out[k] = s
	}
	return out
}

func TestLineTransformsMatchTheDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, 8, 12, 224, 256} {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
		want := naiveDFT(x)
		for name, line := range map[string]lineFFT{"gonum": NewPlan2D(1, n).rows, "own": ownLine(n)} {
			got := append([]complex128(nil), x...)
			line.forward(got)
			if d := maxDiff(got, want); d > 1e-9*float64(n) {
				t.Errorf("%s n=%d: forward differs from the DFT by %g", name, n, d)
			}
			line.inverse(got)
			for i := range got {
				got[i] /= complex(float64(n), 0)
			}
			if d := maxDiff(got, x); d > 1e-12*float64(n) {
				t.Errorf("%s n=%d: inverse(forward(x))/n differs from x by %g", name, n, d)
			}
		}
	}
}

func maxDiff(a, b []complex128) float64 {
	d := 0.0
	for i := range a {
		d = max(d, cmplx.Abs(a[i]-b[i]))
	}
	return d
}

// benchTransform times a forward and an inverse 2-D transform of each of 3 channels of 224×224.
func benchTransform(b *testing.B, plan *Plan2D) {
	rng := rand.New(rand.NewPCG(3, 4))
	chans := make([][]complex128, 3)
	for c := range chans {
		chans[c] = make([]complex128, 224*224)
		for i := range chans[c] {
			chans[c][i] = complex(rng.Float64(), 0)
		}
	}
	measureCPU(b, func() {
		for _, x := range chans {
			plan.Forward(x)
			plan.Inverse(x)
		}
	})
}

// measureCPU runs f b.N times on one locked OS thread and reports its CPU time per run
// (cpu-ns/op) beside the wall time.
func measureCPU(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	n := 0
	b.ResetTimer()
	for b.Loop() {
		f()
		n++
	}
	if end, ok2 := threadCPU(); ok && ok2 && n > 0 {
		b.ReportMetric(float64(end-start)/float64(n), "cpu-ns/op")
	}
}

func BenchmarkTransform224Gonum(b *testing.B) { benchTransform(b, NewPlan2D(224, 224)) }

func BenchmarkTransform224RadixBluestein(b *testing.B) { benchTransform(b, newOwnPlan2D(224, 224)) }

// BenchmarkFilter224 times a whole low-pass of one 224×224×3 image (two channels per transform).
func BenchmarkFilter224(b *testing.B) {
	f, err := NewFilter(224, 224, 0.3, LowPass)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	src := make([]float32, 3*224*224)
	for i := range src {
		src[i] = rng.Float32()
	}
	dst := make([]float32, len(src))
	measureCPU(b, func() {
		if err := f.Apply(dst, src); err != nil {
			b.Fatal(err)
		}
	})
}
