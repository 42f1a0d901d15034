package fourier

import "fmt"

// Pass says which part of the spectrum a box filter keeps.
type Pass int

// The two filters of the spectral-bias analysis.
const (
	LowPass  Pass = iota // keep the centred box of half-sizes int(c·H/2), int(c·W/2)
	HighPass             // zero the centred box built with 1 − c
)

// String names the pass as the plugins do.
func (p Pass) String() string {
	if p == HighPass {
		return "highpass"
	}
	return "lowpass"
}

// HalfSizes returns the box half-sizes ry, rx of the reference: int(c'·(H/2)), int(c'·(W/2))
// with integer H/2, W/2 and c' = c for low-pass, 1 − c for high-pass (computed in float64 and
// truncated, as Python's int() does).
func HalfSizes(h, w int, c float64, pass Pass) (ry, rx int) {
	if pass == HighPass {
		c = 1 - c
	}
	return int(c * float64(h/2)), int(c * float64(w/2))
}

// Box returns the reference's mask in fftshift layout (zero frequency at (h/2, w/2)), row-major
// h×w, 1 where the spectrum is kept: rows [h/2−ry, h/2+ry) × columns [w/2−rx, w/2+rx) are the
// box (half-open, as the reference's slices); low-pass keeps the box, high-pass everything else.
func Box(h, w int, c float64, pass Pass) []float64 {
	ry, rx := HalfSizes(h, w, c, pass)
	cy, cx := h/2, w/2
	m := make([]float64, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			in := y >= cy-ry && y < cy+ry && x >= cx-rx && x < cx+rx
			if in == (pass == LowPass) {
				m[y*w+x] = 1
			}
		}
	}
	return m
}

// Filter is the reference's box filter for one image size and cut-off: per channel FFT, mask,
// inverse FFT, real part, clip to [0,1]. It keeps scratch space: one goroutine per Filter.
//
// The reference's box is half-open, so its mask is not symmetric under k → −k and the filtered
// spectrum is not Hermitian; it keeps the real part of the inverse. That real part equals the
// inverse transform under the symmetrised mask (M(k)+M(−k))/2, which Filter uses: the output
// of each channel is then real, so two channels travel in one complex transform.
type Filter struct {
	plan *Plan2D
	h, w int
	sym  []float64 // symmetrised mask in FFT layout
	all  bool      // the mask keeps every frequency
	none bool      // the mask keeps no frequency
	buf  []complex128
}

// NewFilter returns the filter for h×w channels with cut-off c ∈ [0,1].
func NewFilter(h, w int, c float64, pass Pass) (*Filter, error) {
	if c < 0 || c > 1 {
		return nil, fmt.Errorf("fourier: cut-off %v is outside [0,1]", c)
	}
	if h < 1 || w < 1 {
		return nil, fmt.Errorf("fourier: image size %d×%d", h, w)
	}
	box := Box(h, w, c, pass)
	m := make([]float64, h*w)
	Unshift(m, box, h, w)
	f := &Filter{plan: NewPlan2D(h, w), h: h, w: w, sym: make([]float64, h*w), all: true, none: true,
		buf: make([]complex128, h*w)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := (m[y*w+x] + m[((h-y)%h)*w+(w-x)%w]) / 2
			f.sym[y*w+x] = v
			f.all = f.all && v == 1
			f.none = f.none && v == 0
		}
	}
	return f, nil
}

// Apply filters every h×w channel of src ([C,H,W] row-major) into dst (same length).
func (f *Filter) Apply(dst, src []float32) error {
	n := f.h * f.w
	if len(src)%n != 0 || len(dst) != len(src) {
		return fmt.Errorf("fourier: %d values are not whole %d×%d channels (dst %d)", len(src), f.h, f.w, len(dst))
	}
	switch {
	case f.none:
		clear(dst)
		return nil
	case f.all:
		for i, v := range src {
			dst[i] = clip01(float64(v))
		}
		return nil
	}
	for c := 0; c < len(src)/n; c += 2 {
		a, da := src[c*n:(c+1)*n], dst[c*n:(c+1)*n]
		var b, db []float32
		if (c+2)*n <= len(src) {
			b, db = src[(c+1)*n:(c+2)*n], dst[(c+1)*n:(c+2)*n]
		}
		f.pair(a, b)
		for i, v := range f.buf {
			da[i] = clip01(real(v))
			if db != nil {
				db[i] = clip01(imag(v))
			}
		}
	}
	return nil
}

// pair filters channels a and b (b may be nil) together, leaving the unclipped results in the
// real and imaginary parts of f.buf.
func (f *Filter) pair(a, b []float32) {
	for i := range f.buf {
		im := 0.0
		if b != nil {
			im = float64(b[i])
		}
		f.buf[i] = complex(float64(a[i]), im)
	}
	f.plan.Forward(f.buf)
	for i, m := range f.sym {
		f.buf[i] *= complex(m, 0)
	}
	f.plan.Inverse(f.buf)
}

func clip01(v float64) float32 {
	switch {
	case v < 0:
		return 0
	case v > 1:
		return 1
	}
	return float32(v)
}
