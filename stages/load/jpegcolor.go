package load

import "image"

// JPEG colour conversion as libjpeg-turbo (the decoder behind PIL and torchvision) does it, so that
// decoded pixels match PIL's up to the IDCT rounding: chroma is upsampled with libjpeg's "fancy"
// triangle filter (jdsample.c) and YCbCr → RGB uses its 16-bit fixed-point tables (jdcolor.c).
// Go's own YCbCr.At replicates chroma samples instead, which differs by several levels at colour edges.

const ycbcrScaleBits = 16

// ycc holds jdcolor.c's build_ycc_rgb_table: per-Cb/Cr contributions to R, G and B.
var ycc = func() (t struct{ crR, cbB, crG, cbG [256]int32 }) {
	fix := func(x float64) int32 { return int32(x*(1<<ycbcrScaleBits) + 0.5) }
	const half = 1 << (ycbcrScaleBits - 1)
	for i := range 256 {
		x := int32(i - 128)
		t.crR[i] = (fix(1.40200)*x + half) >> ycbcrScaleBits
		t.cbB[i] = (fix(1.77200)*x + half) >> ycbcrScaleBits
		t.crG[i] = -fix(0.71414) * x
		t.cbG[i] = -fix(0.34414)*x + half
	}
	return t
}()

// chromaFactors returns the horizontal and vertical chroma subsampling factors of a ratio.
func chromaFactors(r image.YCbCrSubsampleRatio) (h, v int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

// ycbcrToRGBA fills out (same size, origin 0) from m with libjpeg-turbo's upsampling and conversion.
func ycbcrToRGBA(out *image.RGBA, m *image.YCbCr) {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	hs, vs := chromaFactors(m.SubsampleRatio)
	if b.Min.X%hs != 0 || b.Min.Y%vs != 0 {
		// A sub-image that splits chroma samples: no libjpeg equivalent; replicate chroma.
		hs, vs = 0, 0
	}
	up := &chromaUpsampler{hs: hs, vs: vs, stride: m.CStride, cw: (w + hs - 1) / max(hs, 1), ch: (h + vs - 1) / max(vs, 1)}
	cb, cr := make([]uint8, w), make([]uint8, w)
	for y := range h {
		if hs == 0 {
			for x := range w {
				i := m.COffset(b.Min.X+x, b.Min.Y+y)
				cb[x], cr[x] = m.Cb[i], m.Cr[i]
			}
		} else {
			c0 := m.COffset(b.Min.X, b.Min.Y)
			up.row(cb, m.Cb[c0:], y)
			up.row(cr, m.Cr[c0:], y)
		}
		yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		dst := out.Pix[y*out.Stride:]
		for x := range w {
			yy, u, v := int32(yrow[x]), cb[x], cr[x]
			dst[4*x] = clampByte(yy + ycc.crR[v])
			dst[4*x+1] = clampByte(yy + (ycc.cbG[u]+ycc.crG[v])>>ycbcrScaleBits)
			dst[4*x+2] = clampByte(yy + ycc.cbB[u])
			dst[4*x+3] = 255
		}
	}
}

// chromaUpsampler produces full-resolution chroma rows from a cw×ch plane as jdsample.c does.
type chromaUpsampler struct {
	hs, vs, stride, cw, ch int
	sums                   []int // scratch: one column sum per chroma sample
}

// row writes output row y (len(dst) columns) of the plane p (first sample at p[0]).
func (u *chromaUpsampler) row(dst, p []uint8, y int) {
	in := y / u.vs
	near := p[in*u.stride : in*u.stride+u.cw]
	if u.hs == 1 && u.vs == 1 {
		copy(dst, near)
		return
	}
	if u.hs > 2 || (u.hs == 2 && u.cw <= 2) {
		// int_upsample, and h2v1/h2v2_upsample for rows of 1 or 2 samples: replicate each sample.
		for x := range dst {
			dst[x] = near[x/u.hs]
		}
		return
	}
	// The next-nearest input row: above for the first output row of a pair, below for the second;
	// the edge rows repeat (libjpeg's context rows). Rounding biases alternate as in jdsample.c.
	far, bias := near, 0
	if u.vs == 2 {
		other, b := in-1, 1
		if y%2 == 1 {
			other, b = in+1, 2
		}
		other = min(max(other, 0), u.ch-1)
		far, bias = p[other*u.stride:other*u.stride+u.cw], b
	}
	if u.hs == 1 { // h1v2_fancy_upsample
		for x := range dst {
			dst[x] = uint8((int(near[x])*3 + int(far[x]) + bias) >> 2)
		}
		return
	}
	if cap(u.sums) < u.cw {
		u.sums = make([]int, u.cw)
	}
	sums := u.sums[:u.cw]
	if u.vs == 1 { // h2v1_fancy_upsample: triangle filter on the samples
		for i, v := range near {
			sums[i] = int(v)
		}
		fancyRow(dst, sums, 1, 2, 2)
		return
	}
	for i := range sums { // h2v2_fancy_upsample: triangle filter on the column sums 3·near + far
		sums[i] = int(near[i])*3 + int(far[i])
	}
	fancyRow(dst, sums, 8, 7, 4)
}

// fancyRow is libjpeg's horizontal triangle filter: output 2i = (3·s[i] + s[i-1] + bias0) >> shift and
// output 2i+1 = (3·s[i] + s[i+1] + bias1) >> shift, the edge samples standing in for their missing neighbours
// (which reproduces jdsample.c's special-cased first and last columns exactly).
func fancyRow(dst []uint8, s []int, bias0, bias1, shift int) {
	n := len(s)
	for i := range n {
		this := 3 * s[i]
		if 2*i < len(dst) {
			dst[2*i] = uint8((this + s[max(i-1, 0)] + bias0) >> shift)
		}
		if 2*i+1 < len(dst) {
			dst[2*i+1] = uint8((this + s[min(i+1, n-1)] + bias1) >> shift)
		}
	}
}
