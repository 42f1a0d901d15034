package load

import (
	"image"
	"math"
)

// Pillow's ImagingResample (src/libImaging/Resample.c) with the BILINEAR filter on 8-bit RGB, ported so
// that the result is bit-identical: separable (horizontal pass, then vertical), the filter support
// widened by the downscale factor (antialiasing), coefficients in fixed point with 22 fractional bits,
// and the intermediate image rounded and clipped to uint8. Only the pixels of the crop are computed;
// each output pixel depends on its own row and column coefficients only, so this changes nothing.

// precisionBits is Resample.c's PRECISION_BITS (32 - 8 - 2).
const precisionBits = 32 - 8 - 2

// coeffs are one axis' resampling coefficients for outputs lo..lo+len(first)-1: output lo+i reads
// count[i] inputs from first[i] on, weighted by k[i*ksize:].
type coeffs struct {
	ksize        int
	first, count []int
	k            []int32
	w            []float64 // scratch: one output's float weights
}

// bilinearFilter is Resample.c's bilinear_filter (support 1).
func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// precompute is Resample.c's precompute_coeffs followed by normalize_coeffs_8bpc, for the box (0, inSize)
// and the outputs lo..hi-1 of outSize, reusing c's slices.
func (c *coeffs) precompute(inSize, outSize, lo, hi int) {
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := 1.0 * filterscale // BILINEAR support
	ksize := int(math.Ceil(support))*2 + 1
	n := hi - lo
	c.ksize = ksize
	c.first, c.count = grow(c.first, n), grow(c.count, n)
	c.k, c.w = grow(c.k, n*ksize), grow(c.w, ksize)
	clear(c.k)
	w := c.w
	ss := 1.0 / filterscale
	for xx := lo; xx < hi; xx++ {
		center := float64(float64(xx)+0.5) * scale
		// C casts truncate toward zero, as Go's conversions do.
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		ww := 0.0
		for x := range xmax {
			w[x] = bilinearFilter(float64(float64(x+xmin)-center+0.5) * ss)
			ww += w[x]
		}
		k := c.k[(xx-lo)*ksize : (xx-lo+1)*ksize]
		for x := range xmax {
			if ww != 0 {
				w[x] /= ww
			}
			// float64(...) around the product forbids a fused multiply-add, which C does not use here.
			if w[x] < 0 {
				k[x] = int32(-0.5 + float64(w[x]*(1<<precisionBits)))
			} else {
				k[x] = int32(0.5 + float64(w[x]*(1<<precisionBits)))
			}
		}
		c.first[xx-lo], c.count[xx-lo] = xmin, xmax
	}
}

// align gives every output the same number of taps, the widest window's, with first ≤ inSize-taps,
// padding with zero weights (which add exact zeros) and repacking k with that stride: the passes then run
// unrolled loops without bounds checks. It reports false, changing nothing, when the input is narrower.
func (c *coeffs) align(inSize int) bool {
	ks, m := c.ksize, 0
	for _, n := range c.count {
		m = max(m, n)
	}
	if inSize < m || m == 0 {
		return false
	}
	for i, first := range c.first {
		start, n := min(first, inSize-m), c.count[i]
		d := first - start
		dst := c.k[i*m : (i+1)*m] // at or before row i's source c.k[i*ks:]: rows move down in order
		copy(dst[d:d+n], c.k[i*ks:i*ks+n])
		clear(dst[:d])
		clear(dst[d+n:])
		c.first[i], c.count[i] = start, m
	}
	c.ksize, c.k = m, c.k[:len(c.first)*m]
	return true
}

// grow returns s resliced to n elements, reallocated only when too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// clip8 is Resample.c's clip8: the fixed-point sum shifted down and clamped to 0..255.
func clip8(v int32) uint8 { return clampByte(v >> precisionBits) }

// resampler holds the buffers of resizeCrop, reused from image to image through resamplers, and
// the plan of the image in progress (prepare), which apply carries out.
type resampler struct {
	h, v coeffs
	tmp  []uint8 // the horizontally resampled rows, packed RGB
	acc  []int32 // one output row's fixed-point sums
	out  []uint8 // the crop, for callers that are done with it before the resampler is reused

	ow, oh             int             // the resized size
	crop               image.Rectangle // of the resized image
	needH, needV       bool            // the pass changes the size
	alignedH, alignedV bool            // the coefficients are aligned (unrolled passes)
	r0, r1             int             // rows of the intermediate image the crop reads
}

var resamplers = newPool(decodePool, func() *resampler { return new(resampler) })

// resizeCrop resizes src (opaque RGBA, origin 0) to ow×oh as Pillow's Image.resize(BILINEAR) does and
// returns the crop rectangle crop of the result as packed RGB rows (3 bytes per pixel).
func resizeCrop(src *image.RGBA, ow, oh int, crop image.Rectangle) []uint8 {
	out := make([]uint8, 3*crop.Dx()*crop.Dy())
	r := resamplers.get()
	r.resizeCrop(out, src, ow, oh, crop)
	resamplers.put(r)
	return out
}

// resizeCrop writes the crop of src resized to ow×oh into out (packed RGB, 3·crop.Dx()·crop.Dy() bytes).
func (r *resampler) resizeCrop(out []uint8, src *image.RGBA, ow, oh int, crop image.Rectangle) {
	r.prepare(src.Rect.Dx(), src.Rect.Dy(), ow, oh, crop)
	r.apply(out, src)
}

// prepare plans the crop crop of an iw×ih image resized to ow×oh and returns the source rectangle it
// reads: the coefficients depend on the sizes only, so any image holding those pixels gives the same
// result. Pillow's order and rounding: the horizontal pass rounds to uint8, then the vertical pass;
// only the rows and columns the crop reads are computed, which changes no value.
func (r *resampler) prepare(iw, ih, ow, oh int, crop image.Rectangle) image.Rectangle {
	r.ow, r.oh, r.crop = ow, oh, crop
	r.needH, r.needV = ow != iw, oh != ih
	r.alignedH, r.alignedV = false, false
	// Rows of the intermediate (horizontally resampled) image that the cropped output rows read.
	r.r0, r.r1 = crop.Min.Y, crop.Max.Y
	if r.needV {
		r.v.precompute(ih, oh, crop.Min.Y, crop.Max.Y)
		r.alignedV = r.v.align(ih) // windows stay in order, so the first and last bound the rows read
		ch := crop.Dy()
		r.r0, r.r1 = r.v.first[0], r.v.first[ch-1]+r.v.count[ch-1]
	}
	x0, x1 := crop.Min.X, crop.Max.X
	if r.needH {
		r.h.precompute(iw, ow, crop.Min.X, crop.Max.X)
		r.alignedH = r.h.align(iw)
		x0, x1 = iw, 0
		for i, f := range r.h.first {
			x0, x1 = min(x0, f), max(x1, f+r.h.count[i])
		}
	}
	return image.Rect(x0, r.r0, x1, r.r1)
}

// apply writes the planned crop into out from src, whose Rect (in the full image's coordinates)
// covers the rectangle prepare returned.
func (r *resampler) apply(out []uint8, src *image.RGBA) {
	crop := r.crop
	cw, ch := crop.Dx(), crop.Dy()
	stride := 3 * cw
	r0, r1 := r.r0, r.r1
	ox, oy := src.Rect.Min.X, src.Rect.Min.Y
	tmp := out
	if r.needV {
		r.tmp = grow(r.tmp, stride*(r1-r0))
		tmp = r.tmp
	}

	// Horizontal pass over rows r0..r1 and the crop's columns, into tmp.
	const half = int32(1 << (precisionBits - 1))
	if r.needH {
		if ox != 0 { // the passes index the rows of src from its first column
			for i := range r.h.first {
				r.h.first[i] -= ox
			}
		}
		for y := r0; y < r1; y++ {
			row := src.Pix[(y-oy)*src.Stride : (y-oy)*src.Stride+4*src.Rect.Dx()]
			dst := tmp[stride*(y-r0) : stride*(y-r0+1)]
			switch ks := r.h.ksize; {
			case r.alignedH && ks == 3:
				horizontal3(dst, row, &r.h)
			case r.alignedH && ks == 4:
				horizontal4(dst, row, &r.h)
			case r.alignedH && ks == 5:
				horizontal5(dst, row, &r.h)
			default:
				horizontal(dst, row, &r.h)
			}
		}
	} else {
		for y := r0; y < r1; y++ {
			row := src.Pix[(y-oy)*src.Stride+4*(crop.Min.X-ox) : (y-oy)*src.Stride+4*(crop.Max.X-ox)]
			dst := tmp[stride*(y-r0) : stride*(y-r0+1)]
			for x := range cw {
				p, d := row[4*x:4*x+3:4*x+3], dst[3*x:3*x+3:3*x+3]
				d[0], d[1], d[2] = p[0], p[1], p[2]
			}
		}
	}
	if !r.needV {
		return
	}

	// Vertical pass: each cropped output row is a weighted sum of rows of tmp (the same integer sums as
	// Pillow's per-pixel loop, in a cache-friendly order).
	ks := r.v.ksize
	if r.alignedV && ks >= 3 && ks <= 5 {
		for yy := range ch {
			dst := out[stride*yy : stride*(yy+1)]
			rows := tmp[(r.v.first[yy]-r0)*stride : (r.v.first[yy]-r0+ks)*stride]
			k := r.v.k[yy*ks : (yy+1)*ks]
			switch ks {
			case 3:
				vertical3(dst, rows, k)
			case 4:
				vertical4(dst, rows, k)
			default:
				vertical5(dst, rows, k)
			}
		}
		return
	}
	r.acc = grow(r.acc, stride)
	acc := r.acc
	for yy := range ch {
		first, n := r.v.first[yy]-r0, r.v.count[yy]
		k := r.v.k[yy*ks : yy*ks+n]
		for i := range acc {
			acc[i] = half
		}
		for y, ky := range k {
			a := tmp[(first+y)*stride : (first+y+1)*stride]
			a = a[:len(acc)]
			for i := range acc {
				acc[i] += int32(a[i]) * ky
			}
		}
		dst := out[stride*yy : stride*(yy+1)]
		dst = dst[:len(acc)]
		for i, s := range acc {
			dst[i] = clip8(s)
		}
	}
}

// vertical3 writes one output row from the 3 consecutive rows of rows (each len(dst) long) weighted by k.
func vertical3(dst, rows []uint8, k []int32) {
	const half = int32(1 << (precisionBits - 1))
	n := len(dst)
	a, b, c := rows[:n], rows[n:2*n], rows[2*n:3*n]
	a, b, c = a[:len(dst)], b[:len(dst)], c[:len(dst)]
	k0, k1, k2 := k[0], k[1], k[2]
	for i := range dst {
		dst[i] = clip8(half + int32(a[i])*k0 + int32(b[i])*k1 + int32(c[i])*k2)
	}
}

// vertical4 writes one output row from the 4 consecutive rows of rows (each len(dst) long) weighted by k.
func vertical4(dst, rows []uint8, k []int32) {
	const half = int32(1 << (precisionBits - 1))
	n := len(dst)
	a, b, c, d := rows[:n], rows[n:2*n], rows[2*n:3*n], rows[3*n:4*n]
	a, b, c, d = a[:len(dst)], b[:len(dst)], c[:len(dst)], d[:len(dst)]
	k0, k1, k2, k3 := k[0], k[1], k[2], k[3]
	for i := range dst {
		dst[i] = clip8(half + int32(a[i])*k0 + int32(b[i])*k1 + int32(c[i])*k2 + int32(d[i])*k3)
	}
}

// vertical5 writes one output row from the 5 consecutive rows of rows (each len(dst) long) weighted by k.
func vertical5(dst, rows []uint8, k []int32) {
	const half = int32(1 << (precisionBits - 1))
	n := len(dst)
	a, b, c, d, e := rows[:n], rows[n:2*n], rows[2*n:3*n], rows[3*n:4*n], rows[4*n:5*n]
	a, b, c, d, e = a[:len(dst)], b[:len(dst)], c[:len(dst)], d[:len(dst)], e[:len(dst)]
	k0, k1, k2, k3, k4 := k[0], k[1], k[2], k[3], k[4]
	for i := range dst {
		dst[i] = clip8(half + int32(a[i])*k0 + int32(b[i])*k1 + int32(c[i])*k2 + int32(d[i])*k3 + int32(e[i])*k4)
	}
}

// horizontal resamples one RGBA row into packed RGB dst with any coefficients.
func horizontal(dst, row []uint8, c *coeffs) {
	const half = int32(1 << (precisionBits - 1))
	ks := c.ksize
	for xx := range len(dst) / 3 {
		first, n := c.first[xx], c.count[xx]
		k := c.k[xx*ks : xx*ks+n]
		p := row[4*first : 4*(first+n)]
		s0, s1, s2 := half, half, half
		for len(k) > 0 && len(p) >= 4 {
			kx := k[0]
			s0 += int32(p[0]) * kx
			s1 += int32(p[1]) * kx
			s2 += int32(p[2]) * kx
			p, k = p[4:], k[1:]
		}
		d := dst[3*xx : 3*xx+3 : 3*xx+3]
		d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
	}
}

// horizontal3 is horizontal for aligned 3-tap windows (upscaling, or downscaling by little).
func horizontal3(dst, row []uint8, c *coeffs) {
	const half = int32(1 << (precisionBits - 1))
	for xx := range len(dst) / 3 {
		f := 4 * c.first[xx]
		p := row[f : f+12 : f+12]
		k := c.k[3*xx : 3*xx+3 : 3*xx+3]
		k0, k1, k2 := k[0], k[1], k[2]
		d := dst[3*xx : 3*xx+3 : 3*xx+3]
		d[0] = clip8(half + int32(p[0])*k0 + int32(p[4])*k1 + int32(p[8])*k2)
		d[1] = clip8(half + int32(p[1])*k0 + int32(p[5])*k1 + int32(p[9])*k2)
		d[2] = clip8(half + int32(p[2])*k0 + int32(p[6])*k1 + int32(p[10])*k2)
	}
}

// horizontal4 is horizontal for aligned 4-tap windows (downscaling by at most about 1.5).
func horizontal4(dst, row []uint8, c *coeffs) {
	const half = int32(1 << (precisionBits - 1))
	for xx := range len(dst) / 3 {
		f := 4 * c.first[xx]
		p := row[f : f+16 : f+16]
		k := c.k[4*xx : 4*xx+4 : 4*xx+4]
		k0, k1, k2, k3 := k[0], k[1], k[2], k[3]
		d := dst[3*xx : 3*xx+3 : 3*xx+3]
		d[0] = clip8(half + int32(p[0])*k0 + int32(p[4])*k1 + int32(p[8])*k2 + int32(p[12])*k3)
		d[1] = clip8(half + int32(p[1])*k0 + int32(p[5])*k1 + int32(p[9])*k2 + int32(p[13])*k3)
		d[2] = clip8(half + int32(p[2])*k0 + int32(p[6])*k1 + int32(p[10])*k2 + int32(p[14])*k3)
	}
}

// horizontal5 is horizontal for aligned 5-tap windows (downscaling by at most about 2).
func horizontal5(dst, row []uint8, c *coeffs) {
	const half = int32(1 << (precisionBits - 1))
	for xx := range len(dst) / 3 {
		f := 4 * c.first[xx]
		p := row[f : f+20 : f+20]
		k := c.k[5*xx : 5*xx+5 : 5*xx+5]
		k0, k1, k2, k3, k4 := k[0], k[1], k[2], k[3], k[4]
		d := dst[3*xx : 3*xx+3 : 3*xx+3]
		d[0] = clip8(half + int32(p[0])*k0 + int32(p[4])*k1 + int32(p[8])*k2 + int32(p[12])*k3 + int32(p[16])*k4)
		d[1] = clip8(half + int32(p[1])*k0 + int32(p[5])*k1 + int32(p[9])*k2 + int32(p[13])*k3 + int32(p[17])*k4)
		d[2] = clip8(half + int32(p[2])*k0 + int32(p[6])*k1 + int32(p[10])*k2 + int32(p[14])*k3 + int32(p[18])*k4)
	}
}
