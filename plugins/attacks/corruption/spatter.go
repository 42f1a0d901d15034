package main

import (
	"math"
	"math/rand/v2"
)

// spatterParams is the severity table of spatter: liquid mean and sd, blur sigma, threshold, the
// colour's intensity (water) or the mask's blur sigma (mud), and whether it is mud.
var spatterParams = [5]struct {
	mean, sd, sigma, threshold, k float64
	mud                           bool
}{
	{0.65, 0.3, 4, 0.69, 0.6, false},
	{0.65, 0.3, 3, 0.68, 0.6, false},
	{0.65, 0.3, 2, 0.68, 0.5, false},
	{0.65, 0.3, 1, 0.65, 1.5, true},
	{0.67, 0.4, 1, 0.65, 1.5, true},
}

// spatter splashes water (severities 1–3: pale turquoise streaks along the edges of blurred-noise
// blobs, shaded by an emboss of their distance to the blob outline) or mud (4–5: brown opaque
// blobs) onto the image, following the reference's OpenCV pipeline step by step.
func spatter(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	c := spatterParams[sev-1]
	h, w := x.H, x.W
	liquid := gaussPlane(normals(r, h*w, c.mean, c.sd), h, w, c.sigma, c.sigma, 4, edgeNearest)
	for i, v := range liquid {
		if float64(v) < c.threshold {
			liquid[i] = 0
		}
	}
	if c.mud {
		m := make([]float32, h*w)
		for i, v := range liquid {
			if float64(v) > c.threshold {
				m[i] = 1
			}
		}
		m = gaussPlane(m, h, w, c.k, c.k, 4, edgeNearest)
		mud := [3]float32{63. / 255, 42. / 255, 20. / 255}
		for i, v := range m {
			if v < 0.8 {
				v = 0
			}
			for ch := range x.P {
				x.P[ch][i] = x.P[ch][i]*(1-v) + mud[ch]*v
			}
		}
		return x.clip01(), nil
	}
	l8 := make([]uint8, h*w)
	for i, v := range liquid {
		l8[i] = uint8(min(max(float64(v)*255, 0), 255))
	}
	edges := canny(l8, h, w, 50, 150)
	dist := chamfer(edges, h, w)
	for i, v := range dist {
		dist[i] = min(v, 20)
	}
	d8 := make([]uint8, h*w)
	for i, v := range box3(dist, h, w) {
		d8[i] = uint8(v)
	}
	d8 = equalizeHist(d8)
	emb := emboss(d8, h, w)
	m := box3(emb, h, w)
	var peak float64
	for i, v := range m {
		m[i] = float64(l8[i]) * math.Round(v) // cv2.blur of uint8 rounds
		peak = max(peak, m[i])
	}
	water := [3]float64{175. / 255, 238. / 255, 238. / 255}
	for i, v := range m {
		if peak > 0 {
			v = v / peak * c.k
		}
		for ch := range x.P {
			x.P[ch][i] += float32(v * water[ch])
		}
	}
	return x.clip01(), nil
}

// canny is OpenCV's Canny edge detector (3×3 Sobel, L1 gradient magnitude, non-maximum
// suppression in four directions, hysteresis between low and high): 255 on edges, 0 elsewhere.
func canny(p []uint8, h, w int, low, high float64) []uint8 {
	at := func(y, x int) float64 {
		return float64(p[border(y, h, edgeReflect101)*w+border(x, w, edgeReflect101)])
	}
	dx, dy, mag := make([]float64, h*w), make([]float64, h*w), make([]float64, h*w)
	for y := range h {
		for x := range w {
			gx := at(y-1, x+1) + 2*at(y, x+1) + at(y+1, x+1) - at(y-1, x-1) - 2*at(y, x-1) - at(y+1, x-1)
			gy := at(y+1, x-1) + 2*at(y+1, x) + at(y+1, x+1) - at(y-1, x-1) - 2*at(y-1, x) - at(y-1, x+1)
			i := y*w + x
			dx[i], dy[i], mag[i] = gx, gy, math.Abs(gx)+math.Abs(gy)
		}
	}
	m := func(y, x int) float64 {
		if y < 0 || y >= h || x < 0 || x >= w {
			return 0
		}
		return mag[y*w+x]
	}
	const tan22 = 0.4142135623730951
	state := make([]uint8, h*w) // 0 none, 1 weak, 2 strong
	var stack []int
	for y := range h {
		for x := range w {
			i := y*w + x
			v := mag[i]
			if v <= low {
				continue
			}
			ax, ay := math.Abs(dx[i]), math.Abs(dy[i])
			var isMax bool
			switch {
			case ay < ax*tan22: // horizontal gradient
				isMax = v > m(y, x-1) && v >= m(y, x+1)
			case ay > ax/tan22: // vertical
				isMax = v > m(y-1, x) && v >= m(y+1, x)
			default:
				s := -1
				if (dx[i] < 0) == (dy[i] < 0) {
					s = 1
				}
				isMax = v > m(y-1, x-s) && v > m(y+1, x+s)
			}
			if !isMax {
				continue
			}
			if v > high {
				state[i] = 2
				stack = append(stack, i)
			} else {
				state[i] = 1
			}
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		y, x := i/w, i%w
		for oy := -1; oy <= 1; oy++ {
			for ox := -1; ox <= 1; ox++ {
				yy, xx := y+oy, x+ox
				if yy < 0 || yy >= h || xx < 0 || xx >= w {
					continue
				}
				if j := yy*w + xx; state[j] == 1 {
					state[j] = 2
					stack = append(stack, j)
				}
			}
		}
	}
	out := make([]uint8, h*w)
	for i, s := range state {
		if s == 2 {
			out[i] = 255
		}
	}
	return out
}

// chamfer is OpenCV's distanceTransform(255 − edges, DIST_L2, 5): the 5×5 chamfer distance (steps
// 1, 1.4 and 2.1969) of every pixel to the nearest edge pixel.
func chamfer(edges []uint8, h, w int) []float64 {
	const a, b, c = 1.0, 1.4, 2.1969
	big := 1e9
	d := make([]float64, h*w)
	for i, e := range edges {
		if e == 0 {
			d[i] = big
		}
	}
	get := func(y, x int) float64 {
		if y < 0 || y >= h || x < 0 || x >= w {
			return big
		}
		return d[y*w+x]
	}
	fwd := []struct {
		dy, dx int
		s      float64
	}{{-2, -1, c}, {-2, 1, c}, {-1, -2, c}, {-1, -1, b}, {-1, 0, a}, {-1, 1, b}, {-1, 2, c}, {0, -1, a}}
	for y := range h {
		for x := range w {
			v := d[y*w+x]
			for _, k := range fwd {
				v = min(v, get(y+k.dy, x+k.dx)+k.s)
			}
			d[y*w+x] = v
		}
	}
	for y := h - 1; y >= 0; y-- {
		for x := w - 1; x >= 0; x-- {
			v := d[y*w+x]
			for _, k := range fwd {
				v = min(v, get(y-k.dy, x-k.dx)+k.s)
			}
			d[y*w+x] = v
		}
	}
	return d
}

// box3 is cv2.blur with a 3×3 box (border REFLECT_101), in float.
func box3[T uint8 | float64](p []T, h, w int) []float64 {
	out := make([]float64, h*w)
	for y := range h {
		for x := range w {
			var s float64
			for oy := -1; oy <= 1; oy++ {
				for ox := -1; ox <= 1; ox++ {
					s += float64(p[border(y+oy, h, edgeReflect101)*w+border(x+ox, w, edgeReflect101)])
				}
			}
			out[y*w+x] = s / 9
		}
	}
	return out
}

// equalizeHist is OpenCV's histogram equalisation of a uint8 plane.
func equalizeHist(p []uint8) []uint8 {
	var hist [256]int
	for _, v := range p {
		hist[v]++
	}
	i0 := 0
	for hist[i0] == 0 {
		i0++
	}
	out := make([]uint8, len(p))
	if hist[i0] == len(p) {
		for i := range out {
			out[i] = uint8(i0)
		}
		return out
	}
	var lut [256]uint8
	scale := 255 / float64(len(p)-hist[i0])
	sum := 0
	for i := i0 + 1; i < 256; i++ {
		sum += hist[i]
		lut[i] = uint8(min(max(math.Round(float64(sum)*scale), 0), 255))
	}
	for i, v := range p {
		out[i] = lut[v]
	}
	return out
}

// emboss is cv2.filter2D(p, CV_8U, [[−2,−1,0],[−1,1,1],[0,1,2]]) (border REFLECT_101, saturated).
func emboss(p []uint8, h, w int) []uint8 {
	k := [3][3]float64{{-2, -1, 0}, {-1, 1, 1}, {0, 1, 2}}
	out := make([]uint8, h*w)
	for y := range h {
		for x := range w {
			var s float64
			for oy := -1; oy <= 1; oy++ {
				for ox := -1; ox <= 1; ox++ {
					s += k[oy+1][ox+1] * float64(p[border(y+oy, h, edgeReflect101)*w+border(x+ox, w, edgeReflect101)])
				}
			}
			out[y*w+x] = uint8(min(max(s, 0), 255))
		}
	}
	return out
}
