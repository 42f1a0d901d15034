package load

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"
)

// plainResize is Resample.c's two passes written the plain way, for the whole image and every tap:
// the reference that the aligned, unrolled, crop-only resizeCrop must equal (the goldens tie this one to Pillow).
func plainResize(src *image.RGBA, ow, oh int) []uint8 {
	iw, ih := src.Rect.Dx(), src.Rect.Dy()
	const half = int32(1 << (precisionBits - 1))
	tmp := make([]uint8, 3*ow*ih)
	var hc, vc coeffs
	hc.precompute(iw, ow, 0, ow)
	for y := range ih {
		for x := range ow {
			for c := range 3 {
				s := half
				for j := range hc.count[x] {
					s += int32(src.Pix[y*src.Stride+4*(hc.first[x]+j)+c]) * hc.k[x*hc.ksize+j]
				}
				tmp[3*(y*ow+x)+c] = clip8(s)
			}
		}
	}
	if iw == ow { // Pillow skips a pass whose size does not change
		for y := range ih {
			for x := range ow {
				copy(tmp[3*(y*ow+x):3*(y*ow+x)+3], src.Pix[y*src.Stride+4*x:])
			}
		}
	}
	if ih == oh {
		return tmp
	}
	out := make([]uint8, 3*ow*oh)
	vc.precompute(ih, oh, 0, oh)
	for y := range oh {
		for i := range 3 * ow {
			s := half
			for j := range vc.count[y] {
				s += int32(tmp[3*ow*(vc.first[y]+j)+i]) * vc.k[y*vc.ksize+j]
			}
			out[3*ow*y+i] = clip8(s)
		}
	}
	return out
}

// TestResizeCropMatchesPlain compares resizeCrop with plainResize on random sizes (down by up to 5×, up
// by up to 3×, inputs narrower than the filter), random crops and random pixels, reusing one resampler.
func TestResizeCropMatchesPlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2026))
	r := new(resampler)
	for i := range 400 {
		iw, ih := 1+rng.IntN(60), 1+rng.IntN(60)
		ow, oh := 1+rng.IntN(min(3*iw, 60)), 1+rng.IntN(min(3*ih, 60))
		if i%4 == 0 { // strong downscaling: 5-tap and wider windows
			iw, ih = 5*ow+rng.IntN(5), 2*oh+rng.IntN(3)
		}
		src := image.NewRGBA(image.Rect(0, 0, iw, ih))
		for j := range src.Pix {
			src.Pix[j] = uint8(rng.UintN(256))
		}
		cw, ch := 1+rng.IntN(ow), 1+rng.IntN(oh)
		x0, y0 := rng.IntN(ow-cw+1), rng.IntN(oh-ch+1)
		crop := image.Rect(x0, y0, x0+cw, y0+ch)
		full := plainResize(src, ow, oh)
		want := make([]uint8, 0, 3*cw*ch)
		for y := crop.Min.Y; y < crop.Max.Y; y++ {
			want = append(want, full[3*(y*ow+crop.Min.X):3*(y*ow+crop.Max.X)]...)
		}
		got := make([]uint8, 3*cw*ch)
		r.resizeCrop(got, src, ow, oh, crop)
		if !bytes.Equal(got, want) {
			t.Fatalf("%dx%d → %dx%d, crop %v: resizeCrop differs from the plain passes", iw, ih, ow, oh, crop)
		}
	}
}
