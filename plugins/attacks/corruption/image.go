package main

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// img is an RGB image as three planes of H×W values in [0,1] (the reference's x/255).
type img struct {
	H, W int
	P    [3][]float32
}

// newImg returns a black image of h×w.
func newImg(h, w int) *img {
	m := &img{H: h, W: w}
	for c := range m.P {
		m.P[c] = make([]float32, h*w)
	}
	return m
}

// fromCHW reads a [3,H,W] tensor and quantises it to uint8 levels (round(x·255)/255), the uint8
// image the reference starts from.
func fromCHW(src []float32, h, w int) *img {
	m := newImg(h, w)
	for c := range m.P {
		plane := src[c*h*w : (c+1)*h*w]
		for i, v := range plane {
			m.P[c][i] = float32(quant(float64(v))) / 255
		}
	}
	return m
}

// quant rounds a [0,1] value to its nearest uint8 level, clipping.
func quant(v float64) uint8 {
	v = math.Round(v * 255)
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// trunc8 is numpy's np.uint8 of a [0,1] value times 255 after clipping: the truncation (not rounding)
// the reference applies to its float result. A 1e-4 guard keeps an exact level k from becoming k−1
// through float rounding.
func trunc8(v float64) uint8 {
	v = v*255 + 1e-4
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// toCHW writes the image as a [3,H,W] tensor, each value truncated to a uint8 level (np.uint8).
func (m *img) toCHW(dst []float32) {
	n := m.H * m.W
	for c := range m.P {
		for i, v := range m.P[c] {
			dst[c*n+i] = float32(trunc8(float64(v))) / 255
		}
	}
}

// clone returns a deep copy.
func (m *img) clone() *img {
	o := newImg(m.H, m.W)
	for c := range m.P {
		copy(o.P[c], m.P[c])
	}
	return o
}

// clip01 clamps every value into [0,1].
func (m *img) clip01() *img {
	for c := range m.P {
		for i, v := range m.P[c] {
			m.P[c][i] = min(max(v, 0), 1)
		}
	}
	return m
}

// gray is OpenCV's RGB2GRAY of the image: 0.299 R + 0.587 G + 0.114 B.
func (m *img) gray() []float32 {
	out := make([]float32, m.H*m.W)
	for i := range out {
		out[i] = 0.299*m.P[0][i] + 0.587*m.P[1][i] + 0.114*m.P[2][i]
	}
	return out
}

// Boundary modes of the filters, as scipy and OpenCV name them.
const (
	edgeNearest    = iota // a a a | a b c d | d d d (scipy "nearest", OpenCV REPLICATE)
	edgeReflect           // c b a | a b c d | d c b (scipy "reflect", OpenCV REFLECT)
	edgeReflect101        // d c b | a b c d | c b a (OpenCV REFLECT_101, its filters' default)
)

// border maps index i into [0, n) under mode.
func border(i, n, mode int) int {
	if i >= 0 && i < n {
		return i
	}
	if n == 1 {
		return 0
	}
	switch mode {
	case edgeNearest:
		return min(max(i, 0), n-1)
	case edgeReflect:
		p := 2 * n
		i %= p
		if i < 0 {
			i += p
		}
		if i >= n {
			i = p - 1 - i
		}
		return i
	default:
		p := 2 * (n - 1)
		i %= p
		if i < 0 {
			i += p
		}
		if i >= n {
			i = p - i
		}
		return i
	}
}

// gaussKernel is scipy's gaussian_filter1d kernel: exp(−x²/2σ²) for |x| ≤ int(truncate·σ + 0.5), normalised.
func gaussKernel(sigma, truncate float64) []float64 {
	r := int(truncate*sigma + 0.5)
	k := make([]float64, 2*r+1)
	var s float64
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-0.5 * x * x / (sigma * sigma))
		s += k[i]
	}
	for i := range k {
		k[i] /= s
	}
	return k
}

// gaussPlane filters one h×w plane with separable Gaussians of sigma sy (rows) and sx (columns),
// like skimage.filters.gaussian / scipy.ndimage.gaussian_filter with the given truncate and mode.
// The kernel is symmetric, so each pass adds mirrored pairs before multiplying (float32).
func gaussPlane(p []float32, h, w int, sy, sx, truncate float64, mode int) []float32 {
	tmp := make([]float32, h*w)
	kx := half32(gaussKernel(sx, truncate))
	rx := len(kx) - 1
	row := make([]float32, w+2*rx)
	for y := 0; y < h; y++ {
		src := p[y*w : (y+1)*w]
		for i := range row {
			row[i] = src[border(i-rx, w, mode)]
		}
		dst := tmp[y*w : (y+1)*w]
		for x := range dst {
			c := row[x+rx:]
			s := kx[0] * c[0]
			for k := 1; k <= rx; k++ {
				s += kx[k] * (c[k] + row[x+rx-k])
			}
			dst[x] = s
		}
	}
	ky := half32(gaussKernel(sy, truncate))
	ry := len(ky) - 1
	out := make([]float32, h*w)
	for y := 0; y < h; y++ {
		dst := out[y*w : (y+1)*w]
		src := tmp[y*w:][:w]
		for x, v := range src {
			dst[x] = ky[0] * v
		}
		for k := 1; k <= ry; k++ {
			a := tmp[border(y-k, h, mode)*w:][:w]
			b := tmp[border(y+k, h, mode)*w:][:w]
			c := ky[k]
			for x := range dst {
				dst[x] += c * (a[x] + b[x])
			}
		}
	}
	return out
}

// half32 is the centre and right half of a symmetric kernel, in float32.
func half32(k []float64) []float32 {
	r := len(k) / 2
	out := make([]float32, r+1)
	for i := range out {
		out[i] = float32(k[r+i])
	}
	return out
}

// gaussian is skimage.filters.gaussian(x, sigma, channel_axis=-1): each channel, mode "nearest", truncate 4.
func (m *img) gaussian(sigma float64) *img {
	o := &img{H: m.H, W: m.W}
	for c := range m.P {
		o.P[c] = gaussPlane(m.P[c], m.H, m.W, sigma, sigma, 4, edgeNearest)
	}
	return o
}

// zoomPlane is the reference's clipped_zoom of one plane: the centre crop of ceil(n/z) pixels per
// axis enlarged by z with scipy.ndimage.zoom (order 1, grid_mode False: corners aligned). It returns
// the enlarged plane and its size, which can exceed h×w by a pixel or so; callers read its top-left h×w.
func zoomPlane(p []float32, h, w int, z float64) ([]float32, int, int) {
	ch := int(math.Ceil(float64(h) / z))
	cw := int(math.Ceil(float64(w) / z))
	top, left := (h-ch)/2, (w-cw)/2
	oh, ow := int(math.Round(float64(ch)*z)), int(math.Round(float64(cw)*z))
	y0, y1, fy := lerpTable(ch, oh, top)
	x0, x1, fx := lerpTable(cw, ow, left)
	out := make([]float32, oh*ow)
	for y := 0; y < oh; y++ {
		r0, r1 := p[y0[y]*w:][:w], p[y1[y]*w:][:w]
		wy := fy[y]
		dst := out[y*ow : (y+1)*ow]
		for x := range dst {
			a := r0[x0[x]] + fx[x]*(r0[x1[x]]-r0[x0[x]])
			b := r1[x0[x]] + fx[x]*(r1[x1[x]]-r1[x0[x]])
			dst[x] = a + wy*(b-a)
		}
	}
	return out, oh, ow
}

// lerpTable maps output index i of an n→o corner-aligned linear resize to its two source indices
// (offset by off) and the weight of the second.
func lerpTable(n, o, off int) (i0, i1 []int, f []float32) {
	i0, i1, f = make([]int, o), make([]int, o), make([]float32, o)
	scale := 0.0
	if o > 1 {
		scale = float64(n-1) / float64(o-1)
	}
	for i := range o {
		s := float64(i) * scale
		a := min(int(s), n-1)
		b := min(a+1, n-1)
		i0[i], i1[i], f[i] = a+off, b+off, float32(s-float64(a))
	}
	return
}

// motionKernel is the reference's motion kernel: a one-sided Gaussian of sigma over 2·radius+1 taps,
// normalised, and the (dy, dx) pixel offset of each tap along angle (degrees). Taps whose offset
// leaves an h×w image are dropped, as the reference's loop breaks there.
func motionKernel(radius int, sigma, angle float64, h, w int) (k []float64, dy, dx []int) {
	width := 2*radius + 1
	var s float64
	g := make([]float64, width)
	for i := range g {
		g[i] = math.Exp(-float64(i*i)/(2*sigma*sigma)) / (math.Sqrt(2*math.Pi) * sigma)
		s += g[i]
	}
	a := angle * math.Pi / 180
	py, px := float64(width)*math.Sin(a), float64(width)*math.Cos(a)
	hyp := math.Hypot(py, px)
	for i := range width {
		oy := -int(math.Ceil(float64(i)*py/hyp - 0.5))
		ox := -int(math.Ceil(float64(i)*px/hyp - 0.5))
		if abs(oy) >= h || abs(ox) >= w {
			break
		}
		k, dy, dx = append(k, g[i]/s), append(dy, oy), append(dx, ox)
	}
	return k, dy, dx
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// motionPlane sums the kernel's shifted copies of one plane: out[y,x] = Σ k_i · p[y−dy_i, x−dx_i],
// indices clamped to the image (the reference's shift repeats the edge row or column).
func motionPlane(p []float32, h, w int, k []float64, dy, dx []int) []float32 {
	acc := make([]float64, h*w)
	for t, c := range k {
		for y := 0; y < h; y++ {
			src := p[min(max(y-dy[t], 0), h-1)*w:][:w]
			dst := acc[y*w : (y+1)*w]
			ox := dx[t]
			lo, hi := max(ox, 0), min(w+ox, w) // x in [lo, hi) reads x−ox inside
			for x := 0; x < lo; x++ {
				dst[x] += c * float64(src[0])
			}
			for x := lo; x < hi; x++ {
				dst[x] += c * float64(src[x-ox])
			}
			for x := hi; x < w; x++ {
				dst[x] += c * float64(src[w-1])
			}
		}
	}
	out := make([]float32, h*w)
	for i, v := range acc {
		out[i] = float32(v)
	}
	return out
}

// normals fills n values of N(mean, sd).
func normals(r *rand.Rand, n int, mean, sd float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(mean + sd*r.NormFloat64())
	}
	return out
}

// uniform draws from U(lo, hi).
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// errSeverity is the error of a severity outside 1–5.
func errSeverity(s int) error { return fmt.Errorf("severity %d is outside 1–5", s) }
