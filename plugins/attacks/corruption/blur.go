package main

import (
	"math"
	"math/rand/v2"
)

// Severity tables of the blur corruptions (imagecorruptions/corruptions.py).
var (
	defocusParams = [5]struct {
		radius int
		alias  float64
	}{{3, 0.1}, {4, 0.5}, {6, 0.5}, {8, 0.5}, {10, 0.5}}
	glassParams = [5]struct {
		sigma        float64
		delta, iters int
	}{{0.7, 1, 2}, {0.9, 2, 1}, {1, 2, 3}, {1.1, 3, 2}, {1.5, 4, 2}}
	motionParams = [5]struct {
		radius int
		sigma  float64
	}{{10, 3}, {15, 5}, {15, 8}, {15, 12}, {20, 15}}
	// zoomParams are the reference's np.arange(1, end, step) zoom factors: count n, factor 1 + i·step.
	zoomParams = [5]struct {
		n    int
		step float64
	}{{12, 0.01}, {16, 0.01}, {11, 0.02}, {13, 0.02}, {11, 0.03}}
	gaussianBlurSigma = [5]float64{1, 2, 3, 4, 6}
)

// gaussianBlur is skimage's gaussian filter of sigma c per channel.
func gaussianBlur(x *img, sev int, _ *rand.Rand, _ *env) (*img, error) {
	return x.gaussian(gaussianBlurSigma[sev-1]).clip01(), nil
}

// diskKernel is the reference's anti-aliased disk: the indicator of X²+Y² ≤ r² on the grid −L..L
// (L = 8 for r ≤ 8, else r), normalised to sum 1, then blurred by OpenCV's GaussianBlur with a 3×3
// (r ≤ 8) or 5×5 kernel of sigma alias (border REFLECT_101 on the kernel array).
func diskKernel(radius int, alias float64) [][]float64 {
	l, ks := 8, 3
	if radius > 8 {
		l, ks = radius, 5
	}
	n := 2*l + 1
	d := make([][]float64, n)
	var s float64
	for y := range d {
		d[y] = make([]float64, n)
		for x := range d[y] {
			if (x-l)*(x-l)+(y-l)*(y-l) <= radius*radius {
				d[y][x] = 1
				s++
			}
		}
	}
	g := make([]float64, ks)
	var gs float64
	for i := range g {
		v := float64(i - ks/2)
		g[i] = math.Exp(-v * v / (2 * alias * alias))
		gs += g[i]
	}
	for i := range g {
		g[i] /= gs
	}
	tmp := make([][]float64, n)
	for y := range d {
		tmp[y] = make([]float64, n)
		for x := range d[y] {
			for k, c := range g {
				tmp[y][x] += c * d[y][border(x+k-ks/2, n, edgeReflect101)] / s
			}
		}
	}
	out := make([][]float64, n)
	for y := range out {
		out[y] = make([]float64, n)
		for x := range out[y] {
			for k, c := range g {
				out[y][x] += c * tmp[border(y+k-ks/2, n, edgeReflect101)][x]
			}
		}
	}
	return out
}

// kernelRow is one row of the upper half of a kernel symmetric about both axes, split into runs
// of one value (summed with prefix sums) and single taps at ±d from the centre: the disk's rows
// are mostly constant, and with the mirrored row and column folded in, each tap serves four cells.
type kernelRow struct {
	runs []struct {
		lo, hi int // columns [lo, hi)
		v      float64
	}
	taps []struct {
		d int // offset from the centre column; the tap at −d has the same value
		v float32
	}
}

// splitKernel splits the upper half (rows 0..r) of an n×n kernel, n = 2r+1, symmetrised about both axes.
func splitKernel(k [][]float64) []kernelRow {
	n := len(k)
	r := n / 2
	var peak float64
	for _, row := range k {
		for _, v := range row {
			peak = max(peak, v)
		}
	}
	rows := make([]kernelRow, r+1)
	for y := range rows {
		row := make([]float64, n)
		for x := range row {
			row[x] = (k[y][x] + k[y][n-1-x] + k[n-1-y][x] + k[n-1-y][n-1-x]) / 4
		}
		for x := 0; x < n; {
			e := x + 1
			for e < n && math.Abs(row[e]-row[x]) <= 1e-12*peak {
				e++
			}
			switch v := row[x]; {
			case v <= 1e-15*peak: // the blur's leak far outside the disk (e^-50 for sigma 0.1)
			case e-x >= 3:
				rows[y].runs = append(rows[y].runs, struct {
					lo, hi int
					v      float64
				}{x, e, v})
			default:
				for i := x; i < e; i++ {
					if i <= r { // the right half mirrors the left
						rows[y].taps = append(rows[y].taps, struct {
							d int
							v float32
						}{r - i, float32(row[i])})
					}
				}
			}
			x = e
		}
	}
	return rows
}

// filterPlane is OpenCV's filter2D of one plane with a square odd kernel split by splitKernel,
// anchored at its centre, border REFLECT_101.
func filterPlane(p []float32, h, w int, rows []kernelRow) []float32 {
	r := len(rows) - 1
	pw := w + 2*r
	pad := make([]float32, (h+2*r)*pw)
	pre := make([]float64, (h+2*r)*(pw+1))
	for y := 0; y < h+2*r; y++ {
		src := p[border(y-r, h, edgeReflect101)*w:][:w]
		row := pad[y*pw : (y+1)*pw]
		pr := pre[y*(pw+1) : (y+1)*(pw+1)]
		for x := range row {
			row[x] = src[border(x-r, w, edgeReflect101)]
			pr[x+1] = pr[x] + float64(row[x])
		}
	}
	out := make([]float32, h*w)
	acc := make([]float64, w)
	fold := make([]float32, pw)
	tap := make([]float32, w)
	for y := 0; y < h; y++ {
		clear(acc)
		for ky, kr := range rows {
			a := pad[(y+ky)*pw:][:pw]
			b := pad[(y+2*r-ky)*pw:][:pw]
			pa := pre[(y+ky)*(pw+1):][:pw+1]
			pb := pre[(y+2*r-ky)*(pw+1):][:pw+1]
			if ky == r {
				copy(fold, a)
			} else {
				for x := range fold {
					fold[x] = a[x] + b[x]
				}
			}
			for _, run := range kr.runs {
				a0, a1 := pa[run.lo:][:w], pa[run.hi:][:w]
				if ky == r {
					for x := range acc {
						acc[x] += run.v * (a1[x] - a0[x])
					}
					continue
				}
				b0, b1 := pb[run.lo:][:w], pb[run.hi:][:w]
				for x := range acc {
					acc[x] += run.v * (a1[x] - a0[x] + b1[x] - b0[x])
				}
			}
			if len(kr.taps) == 0 {
				continue
			}
			clear(tap)
			for _, t := range kr.taps {
				lft, rgt := fold[r-t.d:][:w], fold[r+t.d:][:w]
				if t.d == 0 {
					for x := range tap {
						tap[x] += t.v * lft[x]
					}
					continue
				}
				for x := range tap {
					tap[x] += t.v * (lft[x] + rgt[x])
				}
			}
			for x, v := range tap {
				acc[x] += float64(v)
			}
		}
		dst := out[y*w : (y+1)*w]
		for x, v := range acc {
			dst[x] = float32(v)
		}
	}
	return out
}

// defocusBlur convolves each channel with the anti-aliased disk.
func defocusBlur(x *img, sev int, _ *rand.Rand, _ *env) (*img, error) {
	c := defocusParams[sev-1]
	rows := splitKernel(diskKernel(c.radius, c.alias))
	o := &img{H: x.H, W: x.W}
	for ch := range x.P {
		o.P[ch] = filterPlane(x.P[ch], x.H, x.W, rows)
	}
	return o.clip01(), nil
}

// glassBlur blurs, quantises to uint8 (truncating), shuffles pixels locally and blurs again: for each
// iteration, pixel (h, w) for h from H−δ down to δ+1 and w from W−δ down to δ+1 swaps with
// (h+dy, w+dx), dx and dy uniform integers in [−δ, δ). Like the reference, the "swap" copies: its
// tuple assignment of numpy views writes x[h', w'] into x[h, w] and then that same value back.
func glassBlur(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	c := glassParams[sev-1]
	b := x.gaussian(c.sigma)
	for ch := range b.P {
		for i, v := range b.P[ch] {
			b.P[ch][i] = float32(trunc8(float64(v))) / 255
		}
	}
	h, w, d := x.H, x.W, c.delta
	for range c.iters {
		for y := h - d; y > d; y-- {
			for xx := w - d; xx > d; xx-- {
				dx := r.IntN(2*d) - d
				dy := r.IntN(2*d) - d
				i, j := y*w+xx, (y+dy)*w+xx+dx
				for ch := range b.P {
					b.P[ch][i] = b.P[ch][j]
				}
			}
		}
	}
	return b.gaussian(c.sigma).clip01(), nil
}

// motionBlur is the reference's motion blur (its numpy port of ImageMagick's): a one-sided
// Gaussian kernel of 2·radius+1 taps along a random angle in [−45°, 45°).
func motionBlur(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	c := motionParams[sev-1]
	angle := uniform(r, -45, 45)
	k, dy, dx := motionKernel(c.radius, c.sigma, angle, x.H, x.W)
	o := &img{H: x.H, W: x.W}
	for ch := range x.P {
		o.P[ch] = motionPlane(x.P[ch], x.H, x.W, k, dy, dx)
	}
	return o.clip01(), nil
}

// zoomBlur averages the image with its centre zooms by each of the severity's factors.
func zoomBlur(x *img, sev int, _ *rand.Rand, _ *env) (*img, error) {
	c := zoomParams[sev-1]
	o := x.clone()
	for i := range c.n {
		z := 1 + float64(i)*c.step
		for ch := range x.P {
			layer, _, lw := zoomPlane(x.P[ch], x.H, x.W, z)
			dst := o.P[ch]
			for y := 0; y < x.H; y++ {
				src := layer[y*lw:][:x.W]
				row := dst[y*x.W : (y+1)*x.W]
				for j, v := range src {
					row[j] += v
				}
			}
		}
	}
	inv := 1 / float32(c.n+1)
	for ch := range o.P {
		for i := range o.P[ch] {
			o.P[ch][i] *= inv
		}
	}
	return o.clip01(), nil
}
