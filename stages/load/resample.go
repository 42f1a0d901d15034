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

// coeffs are one axis' resampling coefficients: output i reads count[i] inputs from first[i] on,
// weighted by k[i*ksize:].
type coeffs struct {
	ksize        int
	first, count []int
	k            []int32
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

// precompute is Resample.c's precompute_coeffs followed by normalize_coeffs_8bpc, for the box (0, inSize).
func precompute(inSize, outSize int) coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := 1.0 * filterscale // BILINEAR support
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, first: make([]int, outSize), count: make([]int, outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, ksize)
	ss := 1.0 / filterscale
	for xx := range outSize {
		center := float64(float64(xx)+0.5) * scale
		// C casts truncate toward zero, as Go's conversions do.
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		ww := 0.0
		for x := range xmax {
			w[x] = bilinearFilter(float64(float64(x+xmin)-center+0.5) * ss)
			ww += w[x]
		}
		k := c.k[xx*ksize : (xx+1)*ksize]
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
		c.first[xx], c.count[xx] = xmin, xmax
	}
	return c
}

// clip8 is Resample.c's clip8: the fixed-point sum shifted down and clamped to 0..255.
func clip8(v int32) uint8 { return clampByte(v >> precisionBits) }

// resizeCrop resizes src (opaque RGBA, origin 0) to ow×oh as Pillow's Image.resize(BILINEAR) does and
// returns the crop rectangle crop of the result as packed RGB rows (3 bytes per pixel).
func resizeCrop(src *image.RGBA, ow, oh int, crop image.Rectangle) []uint8 {
	iw, ih := src.Rect.Dx(), src.Rect.Dy()
	cw, ch := crop.Dx(), crop.Dy()
	out := make([]uint8, 3*cw*ch)
	needH, needV := ow != iw, oh != ih

	// Rows of the intermediate (horizontally resampled) image that the cropped output rows read.
	var vc coeffs
	r0, r1 := crop.Min.Y, crop.Max.Y
	if needV {
		vc = precompute(ih, oh)
		r0, r1 = vc.first[crop.Min.Y], vc.first[crop.Max.Y-1]+vc.count[crop.Max.Y-1]
	}

	// Horizontal pass over rows r0..r1 and the crop's columns, into tmp (packed RGB, cw wide).
	tmp := make([]uint8, 3*cw*(r1-r0))
	if needH {
		hc := precompute(iw, ow)
		for y := r0; y < r1; y++ {
			row := src.Pix[y*src.Stride:]
			dst := tmp[3*cw*(y-r0):]
			for xx := crop.Min.X; xx < crop.Max.X; xx++ {
				first, n := hc.first[xx], hc.count[xx]
				k := hc.k[xx*hc.ksize : xx*hc.ksize+n]
				p := row[4*first : 4*(first+n)]
				s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
				for x, kx := range k {
					s0 += int32(p[4*x]) * kx
					s1 += int32(p[4*x+1]) * kx
					s2 += int32(p[4*x+2]) * kx
				}
				i := 3 * (xx - crop.Min.X)
				dst[i], dst[i+1], dst[i+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
	} else {
		for y := r0; y < r1; y++ {
			row := src.Pix[y*src.Stride+4*crop.Min.X:]
			dst := tmp[3*cw*(y-r0):]
			for x := range cw {
				dst[3*x], dst[3*x+1], dst[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	}
	if !needV {
		copy(out, tmp)
		return out
	}

	// Vertical pass: each cropped output row is a weighted sum of rows of tmp, accumulated row by row
	// (the same integer sums as Pillow's per-pixel loop, in a cache-friendly order).
	stride := 3 * cw
	acc := make([]int32, stride)
	for yy := crop.Min.Y; yy < crop.Max.Y; yy++ {
		first, n := vc.first[yy]-r0, vc.count[yy]
		k := vc.k[yy*vc.ksize : yy*vc.ksize+n]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for y, ky := range k {
			row := tmp[(first+y)*stride : (first+y+1)*stride]
			for i, v := range row {
				acc[i] += int32(v) * ky
			}
		}
		dst := out[stride*(yy-crop.Min.Y) : stride*(yy-crop.Min.Y+1)]
		for i, s := range acc {
			dst[i] = clip8(s)
		}
	}
	return out
}
