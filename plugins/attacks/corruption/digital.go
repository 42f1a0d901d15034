package main

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// Severity tables of the digital corruptions (imagecorruptions/corruptions.py).
var (
	brightnessShift = [5]float64{0.1, 0.2, 0.3, 0.4, 0.5}
	contrastFactor  = [5]float64{0.4, 0.3, 0.2, 0.1, 0.05}
	saturateParams  = [5]struct{ scale, shift float64 }{{0.3, 0}, {0.1, 0}, {2, 0}, {5, 0.1}, {20, 0.2}}
	jpegQuality     = [5]int{25, 18, 15, 10, 7}
	pixelateFactor  = [5]float64{0.6, 0.5, 0.4, 0.3, 0.25}
	elasticAlpha    = [5]float64{250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12}
)

// brightness adds c to the HSV value (clipped to 1), keeping hue and saturation: with H and S fixed,
// RGB is proportional to V, so each pixel is scaled by V'/V (a black pixel becomes grey V').
func brightness(x *img, sev int, _ *rand.Rand, _ *env) (*img, error) {
	c := float32(brightnessShift[sev-1])
	r, g, b := x.P[0], x.P[1], x.P[2]
	for i := range r {
		v := max(r[i], g[i], b[i])
		nv := min(v+c, 1)
		if v <= 0 {
			r[i], g[i], b[i] = nv, nv, nv
			continue
		}
		s := nv / v
		r[i], g[i], b[i] = r[i]*s, g[i]*s, b[i]*s
	}
	return x.clip01(), nil
}

// saturate sets the HSV saturation S to clip(S·a + b, 0, 1), keeping hue and value: each channel is
// V − (V − x)·S'/S. A grey pixel has hue 0 (red) in skimage, so a shift b > 0 tints it red.
func saturate(x *img, sev int, _ *rand.Rand, _ *env) (*img, error) {
	c := saturateParams[sev-1]
	r, g, b := x.P[0], x.P[1], x.P[2]
	for i := range r {
		v := float64(max(r[i], g[i], b[i]))
		if v <= 0 {
			continue
		}
		s := (v - float64(min(r[i], g[i], b[i]))) / v
		ns := min(max(s*c.scale+c.shift, 0), 1)
		if s == 0 {
			r[i], g[i], b[i] = float32(v), float32(v*(1-ns)), float32(v*(1-ns))
			continue
		}
		k := ns / s
		r[i] = float32(v - (v-float64(r[i]))*k)
		g[i] = float32(v - (v-float64(g[i]))*k)
		b[i] = float32(v - (v-float64(b[i]))*k)
	}
	return x.clip01(), nil
}

// contrast scales each channel's deviation from its mean by c.
func contrast(x *img, sev int, _ *rand.Rand, _ *env) (*img, error) {
	c := contrastFactor[sev-1]
	for ch := range x.P {
		var s float64
		for _, v := range x.P[ch] {
			s += float64(v)
		}
		m := s / float64(len(x.P[ch]))
		for i, v := range x.P[ch] {
			x.P[ch][i] = float32((float64(v)-m)*c + m)
		}
	}
	return x.clip01(), nil
}

// encodeJPEG encodes the uint8 image with Go's image/jpeg at quality q (4:2:0 chroma, the IJG
// tables scaled as libjpeg scales them, baseline Huffman coding).
func encodeJPEG(x *img, q int) ([]byte, error) {
	rgba := image.NewRGBA(image.Rect(0, 0, x.W, x.H))
	for i := range x.H * x.W {
		rgba.Pix[4*i] = quant(float64(x.P[0][i]))
		rgba.Pix[4*i+1] = quant(float64(x.P[1][i]))
		rgba.Pix[4*i+2] = quant(float64(x.P[2][i]))
		rgba.Pix[4*i+3] = 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("jpeg encode: %w", err)
	}
	return buf.Bytes(), nil
}

// jpegCompression encodes the image at the reference quality (encodeJPEG) and decodes it again.
func jpegCompression(x *img, sev int, _ *rand.Rand, _ *env) (*img, error) {
	data, err := encodeJPEG(x, jpegQuality[sev-1])
	if err != nil {
		return nil, err
	}
	dec, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("jpeg decode: %w", err)
	}
	ycc, ok := dec.(*image.YCbCr)
	if !ok || ycc.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return nil, fmt.Errorf("jpeg decode: got %T, want 4:2:0 YCbCr", dec)
	}
	return fancyRGB(ycc, x.H, x.W), nil
}

// fancyRGB converts a decoded 4:2:0 JPEG to RGB the way libjpeg (and so Pillow, the reference's
// decoder) does by default: chroma upsampled by its "fancy" triangle filter (3/4 nearer, 1/4
// farther sample, in each direction, with its rounding) rather than Go's nearest sample, then
// JFIF YCbCr→RGB, rounded and clamped.
func fancyRGB(m *image.YCbCr, h, w int) *img {
	cw, ch := (w+1)/2, (h+1)/2
	up := func(plane []uint8) []int32 {
		out := make([]int32, h*w)
		col := make([]int32, cw)
		for y := range h {
			near := y / 2
			far := near - 1
			if y%2 == 1 {
				far = near + 1
			}
			far = min(max(far, 0), ch-1)
			a, b := plane[near*m.CStride:], plane[far*m.CStride:]
			for i := range cw {
				col[i] = 3*int32(a[i]) + int32(b[i])
			}
			row := out[y*w : (y+1)*w]
			for i := range cw {
				l, r := col[max(i-1, 0)], col[min(i+1, cw-1)]
				if cw == 1 {
					l, r = col[0], col[0]
				}
				if 2*i < w {
					if i == 0 {
						row[0] = (4*col[0] + 8) >> 4
					} else {
						row[2*i] = (3*col[i] + l + 8) >> 4
					}
				}
				if 2*i+1 < w {
					if i == cw-1 {
						row[2*i+1] = (4*col[i] + 7) >> 4
					} else {
						row[2*i+1] = (3*col[i] + r + 7) >> 4
					}
				}
			}
		}
		return out
	}
	cb, cr := up(m.Cb), up(m.Cr)
	o := newImg(h, w)
	clamp := func(v float64) float32 { return float32(min(max(math.Round(v), 0), 255)) / 255 }
	for y := range h {
		for x := range w {
			i := y*w + x
			yy := float64(m.Y[y*m.YStride+x])
			b, r := float64(cb[i])-128, float64(cr[i])-128
			o.P[0][i] = clamp(yy + 1.402*r)
			o.P[1][i] = clamp(yy - 0.344136286*b - 0.714136286*r)
			o.P[2][i] = clamp(yy + 1.772*b)
		}
	}
	return o
}

// boxTaps are Pillow's BOX resampling weights for an in→out resize: output i averages the inputs
// whose centres fall in ((i+0.5)·s − s/2, (i+0.5)·s + s/2], s = in/out.
func boxTaps(in, out int) (lo []int, wt [][]float64) {
	scale := float64(in) / float64(out)
	support := 0.5 * max(scale, 1)
	lo, wt = make([]int, out), make([][]float64, out)
	for i := range out {
		centre := (float64(i) + 0.5) * scale
		a := max(int(centre-support+0.5), 0)
		b := min(int(centre+support+0.5), in)
		var w []float64
		var s float64
		for j := a; j < b; j++ {
			t := (float64(j) - centre + 0.5) / max(scale, 1)
			v := 0.0
			if t > -0.5 && t <= 0.5 {
				v = 1
			}
			w = append(w, v)
			s += v
		}
		for k := range w {
			w[k] /= s
		}
		lo[i], wt[i] = a, w
	}
	return lo, wt
}

// pixelate shrinks the image by c with Pillow's BOX filter (horizontal pass, then vertical, each
// rounded to uint8) and enlarges it back with nearest neighbour (source ⌊(i+0.5)·small/big⌋).
func pixelate(x *img, sev int, _ *rand.Rand, _ *env) (*img, error) {
	c := pixelateFactor[sev-1]
	sw, sh := int(float64(x.W)*c), int(float64(x.H)*c)
	if sw < 1 || sh < 1 {
		return nil, fmt.Errorf("pixelate: a %d×%d image shrinks to nothing", x.H, x.W)
	}
	xl, xw := boxTaps(x.W, sw)
	yl, yw := boxTaps(x.H, sh)
	o := newImg(x.H, x.W)
	nx, ny := make([]int, x.W), make([]int, x.H)
	for i := range nx {
		nx[i] = min(int((float64(i)+0.5)*float64(sw)/float64(x.W)), sw-1)
	}
	for i := range ny {
		ny[i] = min(int((float64(i)+0.5)*float64(sh)/float64(x.H)), sh-1)
	}
	tmp := make([]float64, x.H*sw)
	small := make([]float32, sh*sw)
	for ch := range x.P {
		p := x.P[ch]
		for y := 0; y < x.H; y++ {
			for j := range sw {
				var s float64
				for k, w := range xw[j] {
					s += w * float64(quant(float64(p[y*x.W+xl[j]+k])))
				}
				tmp[y*sw+j] = math.Round(s)
			}
		}
		for i := range sh {
			for j := range sw {
				var s float64
				for k, w := range yw[i] {
					s += w * tmp[(yl[i]+k)*sw+j]
				}
				small[i*sw+j] = float32(math.Round(s)) / 255
			}
		}
		for y := 0; y < x.H; y++ {
			for xx := 0; xx < x.W; xx++ {
				o.P[ch][y*x.W+xx] = small[ny[y]*sw+nx[xx]]
			}
		}
	}
	return o, nil
}

// reflectCoord folds a sampling coordinate into [−0.5, n−0.5] by half-sample reflection (scipy's "reflect").
func reflectCoord(c float64, n int) float64 {
	p := 2 * float64(n)
	c = math.Mod(c+0.5, p)
	if c < 0 {
		c += p
	}
	if c > float64(n) {
		c = p - c
	}
	return c - 0.5
}

// elasticTransform displaces each pixel by smooth random fields (uniform noise in ±0.005·H, Gaussian
// filtered with sigma 0.01·(H, W), truncate 3, mode reflect, times alpha) and resamples bilinearly.
func elasticTransform(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	h, w := x.H, x.W
	alpha := elasticAlpha[sev-1]
	maxd := float64(h) * 0.005
	field := func() []float32 {
		u := make([]float32, h*w)
		for i := range u {
			u[i] = float32(uniform(r, -maxd, maxd))
		}
		f := gaussPlane(u, h, w, 0.01*float64(h), 0.01*float64(w), 3, edgeReflect)
		for i := range f {
			f[i] = float32(float64(f[i]) * alpha)
		}
		return f
	}
	dx := field()
	dy := field()
	o := newImg(h, w)
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			i := y*w + xx
			sy := reflectCoord(float64(y)+float64(dy[i]), h)
			sx := reflectCoord(float64(xx)+float64(dx[i]), w)
			y0, x0 := int(math.Floor(sy)), int(math.Floor(sx))
			fy, fx := float32(sy-float64(y0)), float32(sx-float64(x0))
			ya, yb := border(y0, h, edgeReflect), border(y0+1, h, edgeReflect)
			xa, xb := border(x0, w, edgeReflect), border(x0+1, w, edgeReflect)
			for ch := range x.P {
				p := x.P[ch]
				a := p[ya*w+xa] + fx*(p[ya*w+xb]-p[ya*w+xa])
				b := p[yb*w+xa] + fx*(p[yb*w+xb]-p[yb*w+xa])
				o.P[ch][i] = a + fy*(b-a)
			}
		}
	}
	return o.clip01(), nil
}
