package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vistudy/vistudy/plugins/attacks/fourier"
)

// b is binom5 written out: √2·[1 4 6 4 1]/16.
var b = [5]float64{math.Sqrt2 / 16, 4 * math.Sqrt2 / 16, 6 * math.Sqrt2 / 16, 4 * math.Sqrt2 / 16, math.Sqrt2 / 16}

func TestReduceAndExpandKnownAnswers(t *testing.T) {
	// Hand-computed: correlation with b under mirror-about-the-edge-pixel extension
	// (x[−k] = x[k], x[n−1+k] = x[n−1−k]), keeping positions 0, 2, 4, …
	for _, tc := range []struct {
		name string
		x    []float64
		want []float64
	}{
		{"impulse at the left edge", []float64{1, 0, 0, 0, 0, 0}, []float64{b[2], b[0], 0}},
		{"impulse next to the edge is mirrored", []float64{0, 1, 0, 0, 0, 0}, []float64{b[1] + b[3], b[1], 0}},
		{"impulse at the right edge, odd length", []float64{0, 0, 0, 0, 1}, []float64{0, b[4], b[2]}},
		{"constant doubles by √2 per axis", []float64{1, 1, 1, 1, 1, 1, 1}, []float64{math.Sqrt2, math.Sqrt2, math.Sqrt2, math.Sqrt2}},
	} {
		got := make([]float64, (len(tc.x)+1)/2)
		reduce1(got, 1, tc.x, 0, 1, len(tc.x))
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-15 {
				t.Errorf("reduce %s: %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
	// Expansion: samples at even positions of an n-grid, convolution with b, mirror edges.
	for _, tc := range []struct {
		name string
		x    []float64
		n    int
		want []float64
	}{
		{"impulse at the left edge", []float64{1, 0, 0}, 6, []float64{b[2], b[3], b[4], 0, 0, 0}},
		{"impulse in the middle, its mirror image at −2 reaches 0", []float64{0, 1, 0}, 6, []float64{2 * b[0], b[1], b[2], b[3], b[4], 0}},
		{"last sample of an even grid mirrors about n−1 to 6", []float64{0, 0, 1}, 6, []float64{0, 0, b[0], b[1], b[2] + b[0], 2 * b[3]}},
		{"last sample of an odd grid sits on the edge", []float64{0, 0, 0, 1}, 7, []float64{0, 0, 0, 0, b[0], b[1], b[2]}},
		{"constant becomes √2/2", []float64{1, 1, 1, 1}, 7, []float64{math.Sqrt2 / 2, math.Sqrt2 / 2, math.Sqrt2 / 2, math.Sqrt2 / 2, math.Sqrt2 / 2, math.Sqrt2 / 2, math.Sqrt2 / 2}},
	} {
		got := make([]float64, tc.n)
		expand1(got, 1, tc.x, 0, 1, len(tc.x), tc.n)
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-15 {
				t.Errorf("expand %s: %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

func TestPyramidLevels(t *testing.T) {
	for _, tc := range []struct{ h, w, levels int }{
		{224, 224, 7}, // 224 112 56 28 14 7 (+ the 4×4 residual)
		{256, 256, 7}, // 256 … 8 (+4): 4 < 5 stops
		{7, 7, 2}, {4, 4, 1}, {300, 10, 3}, {5, 5, 2},
	} {
		if got := levels(tc.h, tc.w); got != tc.levels {
			t.Errorf("levels(%d, %d) = %d, want %d", tc.h, tc.w, got, tc.levels)
		}
	}
	pyr := buildLaplacian(newPlane(224, 224))
	want := []int{224, 112, 56, 28, 14, 7, 4}
	for l, p := range pyr.bands {
		if p.h != want[l] || p.w != want[l] {
			t.Errorf("level %d is %d×%d, want %d×%d", l, p.h, p.w, want[l], want[l])
		}
	}
}

func TestPyramidOfAConstant(t *testing.T) {
	// Expanding what was reduced returns a constant exactly, edges included, so every band but
	// the residual is zero and the residual is the constant times 2 per 2-D reduction.
	for _, tc := range []struct{ h, w int }{{224, 224}, {30, 20}, {9, 13}} {
		img := newPlane(tc.h, tc.w)
		for i := range img.v {
			img.v[i] = 0.3
		}
		pyr := buildLaplacian(img)
		last := len(pyr.bands) - 1
		for l, p := range pyr.bands {
			want := 0.0
			if l == last {
				want = 0.3 * math.Exp2(float64(last))
			}
			for i, v := range p.v {
				if math.Abs(v-want) > 1e-12 {
					t.Fatalf("%dx%d level %d value %d = %v, want %v", tc.h, tc.w, l, i, v, want)
				}
			}
		}
	}
}

func TestPyramidBandsAddUpToTheNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct{ h, w int }{{224, 224}, {37, 50}} {
		noise := newPlane(tc.h, tc.w)
		for i := range noise.v {
			noise.v[i] = rng.NormFloat64()
		}
		pyr := buildLaplacian(noise)
		sum := newPlane(tc.h, tc.w)
		for l := range pyr.bands {
			r := pyr.recon(l)
			for i, v := range r.v {
				sum.v[i] += v
			}
		}
		for i := range sum.v {
			if math.Abs(sum.v[i]-noise.v[i]) > 1e-12 {
				t.Fatalf("%dx%d: the bands sum to %v at %d, the noise is %v", tc.h, tc.w, sum.v[i], i, noise.v[i])
			}
		}
	}
}

func TestBandNoiseHasTheFinestBandsRMS(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	noise := newPlane(224, 224)
	for i := range noise.v {
		noise.v[i] = 0.08 * rng.NormFloat64()
	}
	finest := rms(buildLaplacian(noise).bands[0])
	for band := 0; band < 7; band++ {
		sf, err := bandNoise(noise, band)
		if err != nil {
			t.Fatal(err)
		}
		if r := rms(sf); math.Abs(r/finest-1) > 1e-12 {
			t.Errorf("band %d: RMS %v, the finest band's is %v", band, r, finest)
		}
	}
	if _, err := bandNoise(noise, 7); err == nil {
		t.Error("band 7 of a 7-level pyramid was accepted")
	}
}

// centroid is the energy-weighted geometric mean of the radial frequency (cycles/image) of
// the spectra of the given n×n planes, the zero frequency left out.
func centroid(planes [][]float64, n int, energy func(fy, fx int, p []complex128, k int) float64) float64 {
	var logSum, sum float64
	plan := fourier.NewPlan2D(n, n)
	for _, v := range planes {
		x := make([]complex128, n*n)
		for i, f := range v {
			x[i] = complex(f, 0)
		}
		plan.Forward(x)
		for ky := 0; ky < n; ky++ {
			for kx := 0; kx < n; kx++ {
				fy, fx := ky, kx
				if fy > n/2 {
					fy -= n
				}
				if fx > n/2 {
					fx -= n
				}
				if fy == 0 && fx == 0 {
					continue
				}
				e := energy(fy, fx, x, ky*n+kx)
				logSum += e * math.Log2(math.Hypot(float64(fy), float64(fx)))
				sum += e
			}
		}
	}
	return math.Exp2(logSum / sum)
}

// predictedCentroid is centroid for the band's transfer function from the filters alone
// (aliasing and edges left out): band f is pyramid level l = 6 − f, which has passed l
// reductions and l expansions, each the 2-D response B(u)B(v), B(u) = ((1 + cos πu/112)/2)² at
// the level's scale, and — except the residual — the level's own high-pass 1 − (B·B)².
func predictedCentroid(band int) float64 {
	const n = 224
	bin := func(nu float64) float64 { c := (1 + math.Cos(math.Pi*nu/112)) / 2; return c * c }
	l := 6 - band
	flat := [][]float64{make([]float64, n*n)} // the response is used directly, not a spectrum
	return centroid(flat, n, func(fy, fx int, _ []complex128, _ int) float64 {
		h := 1.0
		for j := 0; j <= l; j++ {
			s := math.Exp2(float64(j))
			r := bin(float64(fx)*s) * bin(float64(fy)*s)
			switch {
			case j < l:
				h *= r * r
			case l < 6:
				h *= 1 - r*r
			}
		}
		return h * h
	})
}

func TestBandNoiseSpectrum(t *testing.T) {
	// The measured centre of each band follows the pyramid's filters, one octave apart. It is
	// not the nominal 1.75·2^band: that is the Nyquist frequency of the band's pyramid level
	// (the upper edge of its octave); the expansions attenuate the upper half of every octave
	// but the finest, so bands 1–5 centre near 1.75·2^(band−1).
	const n = 224
	rng := rand.New(rand.NewPCG(3, 3))
	var draws []plane
	for d := 0; d < 4; d++ {
		noise := newPlane(n, n)
		for i := range noise.v {
			noise.v[i] = rng.NormFloat64()
		}
		draws = append(draws, noise)
	}
	power := func(_, _ int, x []complex128, k int) float64 { return real(x[k])*real(x[k]) + imag(x[k])*imag(x[k]) }
	prev := 0.0
	for band := 0; band < 7; band++ {
		var planes [][]float64
		for _, noise := range draws {
			sf, err := bandNoise(noise, band)
			if err != nil {
				t.Fatal(err)
			}
			planes = append(planes, sf.v)
		}
		got, want := centroid(planes, n, power), predictedCentroid(band)
		// The FFT takes the image as periodic; coarse bands differ at opposite edges, and that jump
		// leaks energy upwards, which the prediction leaves out: large for bands 1 and 0 only.
		tol := 0.25
		if band < 2 {
			tol = 0.75
		}
		if d := math.Abs(math.Log2(got / want)); d > tol {
			t.Errorf("band %d: centre %.2f cycles/image, the filters predict %.2f (%.2f octaves off)", band, got, want, d)
		}
		if band > 0 {
			// Bands 0 and 1 share the coarsest frequencies, so only require that they increase.
			lo := 0.5
			if band == 1 {
				lo = 0.05
			}
			if step := math.Log2(got / prev); step < lo || step > 1.7 {
				t.Errorf("band %d: centre %.2f is %.2f octaves above band %d's %.2f", band, got, step, band-1, prev)
			}
		}
		nominal := 1.75 * math.Exp2(float64(band))
		t.Logf("band %d: centre %.2f cycles/image (filters: %.2f; nominal 1.75·2^%d = %.2f)", band, got, want, band, nominal)
		prev = got
	}
}
