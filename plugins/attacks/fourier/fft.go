// Package fourier holds what the lowpass and highpass plugins share (ANALYSES.md C): a reusable
// 2-D FFT, the numpy fftshift layout, and the reference's centred box masks applied to [C,H,W]
// images.
//
// The 1-D transforms are gonum.org/v1/gonum/dsp/fourier (an FFTPACK port, mixed radix 4/2/3/5
// plus a generic odd factor, so 224 = 4·4·2·7 needs no padding). It was measured against a
// hand-written radix-2 FFT with Bluestein's algorithm for other lengths (two 512-point
// transforms per 224-point one; fft_bench_test.go) on 224×224×3 images, forward and inverse
// 2-D transform of every channel, one core, best of 8 runs of 10 (CPU time, on a shared 2-core
// AMD EPYC VM; `go test -run XXX -bench . ./plugins/attacks/fourier`):
//
//	gonum (FFTPACK mixed radix)      24.5 ms per image
//	radix-2 + Bluestein              31.7 ms per image
//
// so gonum is used. Filter packs two real channels into one complex transform (4 instead of 6
// 2-D transforms per RGB image): a whole low- or high-pass of a 224×224×3 image takes 16.5 ms.
package fourier

import (
	gonumfft "gonum.org/v1/gonum/dsp/fourier"
)

// lineFFT is an in-place, unnormalised 1-D complex transform of one length.
type lineFFT interface {
	forward(x []complex128)
	inverse(x []complex128)
}

// gonumLine adapts gonum's FFTPACK transform.
type gonumLine struct{ t *gonumfft.CmplxFFT }

func (g gonumLine) forward(x []complex128) { g.t.Coefficients(x, x) }
func (g gonumLine) inverse(x []complex128) { g.t.Sequence(x, x) }

// colBlock is how many columns are gathered at once, so each row read touches whole cache lines.
const colBlock = 8

// Plan2D is a 2-D complex FFT of one size over row-major h×w data. It keeps scratch space, so
// one Plan2D must not be used by two goroutines at once.
type Plan2D struct {
	h, w       int
	rows, cols lineFFT
	block      []complex128 // colBlock gathered columns, each h long
}

// NewPlan2D returns a plan for h×w transforms.
func NewPlan2D(h, w int) *Plan2D {
	return newPlan2D(h, w, gonumLine{gonumfft.NewCmplxFFT(w)}, gonumLine{gonumfft.NewCmplxFFT(h)})
}

func newPlan2D(h, w int, rows, cols lineFFT) *Plan2D {
	return &Plan2D{h: h, w: w, rows: rows, cols: cols, block: make([]complex128, colBlock*h)}
}

// Size returns the plan's height and width.
func (p *Plan2D) Size() (h, w int) { return p.h, p.w }

// Forward replaces x (h·w values, row-major) by its unnormalised 2-D DFT, X[k] = Σ x[n]·e^{−2πi k·n/N}.
func (p *Plan2D) Forward(x []complex128) { p.transform(x, false) }

// Inverse replaces x by its inverse 2-D DFT scaled by 1/(h·w), so Inverse(Forward(x)) == x.
func (p *Plan2D) Inverse(x []complex128) {
	p.transform(x, true)
	s := complex(1/float64(p.h*p.w), 0)
	for i := range x {
		x[i] *= s
	}
}

func (p *Plan2D) transform(x []complex128, inverse bool) {
	if len(x) != p.h*p.w {
		panic("fourier: Plan2D got a buffer of the wrong size")
	}
	line := func(t lineFFT, v []complex128) {
		if inverse {
			t.inverse(v)
		} else {
			t.forward(v)
		}
	}
	for r := 0; r < p.h; r++ {
		line(p.rows, x[r*p.w:(r+1)*p.w])
	}
	for c0 := 0; c0 < p.w; c0 += colBlock {
		nb := min(colBlock, p.w-c0)
		for r := 0; r < p.h; r++ {
			row := x[r*p.w+c0 : r*p.w+c0+nb]
			for b, v := range row {
				p.block[b*p.h+r] = v
			}
		}
		for b := 0; b < nb; b++ {
			line(p.cols, p.block[b*p.h:(b+1)*p.h])
		}
		for r := 0; r < p.h; r++ {
			row := x[r*p.w+c0 : r*p.w+c0+nb]
			for b := range row {
				row[b] = p.block[b*p.h+r]
			}
		}
	}
}

// Shift writes src (h×w, FFT layout) to dst with the zero frequency moved to (h/2, w/2), as
// numpy.fft.fftshift and torch.fft.fftshift do for both even and odd sizes.
func Shift[T any](dst, src []T, h, w int) {
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dst[((y+h/2)%h)*w+(x+w/2)%w] = src[y*w+x]
		}
	}
}

// Unshift undoes Shift (numpy.fft.ifftshift).
func Unshift[T any](dst, src []T, h, w int) {
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dst[y*w+x] = src[((y+h/2)%h)*w+(x+w/2)%w]
		}
	}
}
