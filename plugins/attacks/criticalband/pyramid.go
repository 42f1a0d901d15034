package main

import "math"

// The Laplacian pyramid of pyrtools (LabForComputationalVision/pyrtools, LaplacianPyramid with its
// defaults), which the reference builds on the noise: the 'binom5' filter √2·[1 4 6 4 1]/16 (not
// normalised to sum 1, so each 2-D reduction doubles a constant and each expansion halves it),
// 'reflect1' edges (mirror about the edge pixel, which keeps sample parity), reduction by
// correlation and subsampling at even positions, expansion by zero insertion and convolution.

// binom5 is pyrtools' named_filter("binom5").
var binom5 = [5]float64{
	math.Sqrt2 / 16, 4 * math.Sqrt2 / 16, 6 * math.Sqrt2 / 16, 4 * math.Sqrt2 / 16, math.Sqrt2 / 16,
}

// reflect1 maps a position outside [0, n) back by mirroring about the edge pixels.
func reflect1(p, n int) int {
	if n == 1 {
		return 0
	}
	for p < 0 || p >= n {
		if p < 0 {
			p = -p
		}
		if p >= n {
			p = 2*(n-1) - p
		}
	}
	return p
}

// plane is a row-major h×w grid.
type plane struct {
	h, w int
	v    []float64
}

func newPlane(h, w int) plane { return plane{h: h, w: w, v: make([]float64, h*w)} }

// levels is pyrtools' pyramid height for an h×w image and a 5-tap filter:
// 1 + the number of times both sides, halved with floor, stay at least 5.
func levels(h, w int) int {
	n := 1
	for min(h, w) >= len(binom5) {
		n++
		h, w = h/2, w/2
	}
	return n
}

// reduce1 correlates n values (stride apart, from off) with binom5 under reflect1 edges and
// keeps even positions: ceil(n/2) outputs (pyrtools corrDn with step 2).
func reduce1(dst []float64, dstStride int, src []float64, off, stride, n int) {
	for i := 0; 2*i < n; i++ {
		s := 0.0
		for k, f := range binom5 {
			s += f * src[off+stride*reflect1(2*i+k-2, n)]
		}
		dst[i*dstStride] = s
	}
}

// expand1 places m values at the even positions of n zeros and convolves with binom5 under
// reflect1 edges of the n-long result grid (pyrtools upConv with step 2 and stop n).
func expand1(dst []float64, dstStride int, src []float64, off, stride, m, n int) {
	for p := 0; p < n; p++ {
		s := 0.0
		for k, f := range binom5 {
			q := reflect1(p-(k-2), n)
			if q%2 == 0 && q/2 < m {
				s += f * src[off+stride*(q/2)]
			}
		}
		dst[p*dstStride] = s
	}
}

// down is pyrtools' _build_next: reduce along the rows' length (x), then down the columns (y).
func down(p plane) plane {
	w2, h2 := (p.w+1)/2, (p.h+1)/2
	tmp := newPlane(p.h, w2)
	for y := 0; y < p.h; y++ {
		reduce1(tmp.v[y*w2:], 1, p.v, y*p.w, 1, p.w)
	}
	out := newPlane(h2, w2)
	for x := 0; x < w2; x++ {
		reduce1(out.v[x:], w2, tmp.v, x, w2, p.h)
	}
	return out
}

// up is pyrtools' _recon_prev: expand down the columns (y) to h, then along the rows (x) to w.
func up(p plane, h, w int) plane {
	tmp := newPlane(h, p.w)
	for x := 0; x < p.w; x++ {
		expand1(tmp.v[x:], p.w, p.v, x, p.w, p.h, h)
	}
	out := newPlane(h, w)
	for y := 0; y < h; y++ {
		expand1(out.v[y*w:], 1, tmp.v, y*p.w, 1, p.w, w)
	}
	return out
}

// laplacian is a Laplacian pyramid: bands[0] the finest (full size), the last the low-pass
// residual.
type laplacian struct{ bands []plane }

// buildLaplacian decomposes img into levels(h, w) bands as pyrtools' LaplacianPyramid does.
func buildLaplacian(img plane) laplacian {
	n := levels(img.h, img.w)
	pyr := laplacian{bands: make([]plane, n)}
	g := img
	for l := 0; l < n-1; l++ {
		next := down(g)
		u := up(next, g.h, g.w)
		band := newPlane(g.h, g.w)
		for i := range band.v {
			band.v[i] = g.v[i] - u.v[i]
		}
		pyr.bands[l] = band
		g = next
	}
	pyr.bands[n-1] = g
	return pyr
}

// recon returns band l alone brought back to full size (pyrtools recon_pyr(levels=l)).
func (p laplacian) recon(l int) plane {
	r := p.bands[l]
	for lev := l - 1; lev >= 0; lev-- {
		r = up(r, p.bands[lev].h, p.bands[lev].w)
	}
	return r
}

// rms is the root mean square of the plane's values.
func rms(p plane) float64 {
	s := 0.0
	for _, v := range p.v {
		s += v * v
	}
	return math.Sqrt(s / float64(len(p.v)))
}
