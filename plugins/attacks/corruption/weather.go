package main

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // frost4–6 are JPEGs
	_ "image/png"  // frost1–3 are PNGs
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
)

// Severity tables of the weather corruptions (imagecorruptions/corruptions.py).
var (
	snowParams = [5]struct {
		mean, sd, zoom, threshold float64
		radius                    int
		sigma, keep               float64
	}{
		{0.1, 0.3, 3, 0.5, 10, 4, 0.8},
		{0.2, 0.3, 2, 0.5, 12, 4, 0.7},
		{0.55, 0.3, 4, 0.9, 12, 8, 0.7},
		{0.55, 0.3, 4.5, 0.85, 12, 8, 0.65},
		{0.55, 0.3, 2.5, 0.85, 12, 12, 0.55},
	}
	frostParams = [5]struct{ image, frost float64 }{{1, 0.4}, {0.8, 0.6}, {0.7, 0.7}, {0.65, 0.7}, {0.6, 0.75}}
	fogParams   = [5]struct{ amount, decay float64 }{{1.5, 2}, {2, 2}, {2.5, 1.7}, {2.5, 1.5}, {3, 1.4}}
)

// snow draws a snow layer (Gaussian field, zoomed, thresholded, motion-blurred along an angle in
// [−135°, −45°), rounded to uint8), greys the image towards max(x, 1.5·grey + 0.5) and adds the
// layer and its 180° rotation.
func snow(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	c := snowParams[sev-1]
	h, w := x.H, x.W
	layer, lh, lw := zoomPlane(normals(r, h*w, c.mean, c.sd), h, w, c.zoom)
	for i, v := range layer {
		if float64(v) < c.threshold {
			v = 0
		}
		layer[i] = min(max(v, 0), 1)
	}
	k, dy, dx := motionKernel(c.radius, c.sigma, uniform(r, -135, -45), lh, lw)
	layer = motionPlane(layer, lh, lw, k, dy, dx)
	flake := make([]float32, h*w)
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			flake[y*w+xx] = float32(math.Round(float64(layer[y*lw+xx])*255)) / 255
		}
	}
	g := x.gray()
	keep := float32(c.keep)
	for ch := range x.P {
		p := x.P[ch]
		for i, v := range p {
			v = keep*v + (1-keep)*max(v, g[i]*1.5+0.5)
			p[i] = v + flake[i] + flake[h*w-1-i]
		}
	}
	return x.clip01(), nil
}

// frostPhotos caches the decoded frost photographs per folder.
var frostPhotos sync.Map // folder → *frostSet

type frostSet struct {
	once   sync.Once
	photos [5]*rgb8
	err    error
}

// rgb8 is an 8-bit RGB picture, row-major, 3 bytes a pixel.
type rgb8 struct {
	H, W int
	Pix  []uint8
}

// frostFiles are the five photographs the reference draws from (frost6.jpg is never used there).
var frostFiles = [5]string{"frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"}

// loadFrost returns the five frost photographs of folder, decoded once per process.
func loadFrost(folder string) ([5]*rgb8, error) {
	v, _ := frostPhotos.LoadOrStore(folder, &frostSet{})
	s := v.(*frostSet)
	s.once.Do(func() {
		for i, name := range frostFiles {
			if s.photos[i], s.err = readRGB(filepath.Join(folder, name)); s.err != nil {
				return
			}
		}
	})
	return s.photos, s.err
}

// readRGB decodes a PNG or JPEG to 8-bit RGB, dropping alpha as OpenCV's imread does (4:2:0 JPEGs
// with libjpeg's chroma upsampling).
func readRGB(path string) (*rgb8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("frost photo: %w", err)
	}
	defer f.Close()
	im, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("frost photo %s: %w", path, err)
	}
	b := im.Bounds()
	out := &rgb8{H: b.Dy(), W: b.Dx(), Pix: make([]uint8, 3*b.Dx()*b.Dy())}
	if ycc, ok := im.(*image.YCbCr); ok && ycc.SubsampleRatio == image.YCbCrSubsampleRatio420 && b.Min == (image.Point{}) {
		m := fancyRGB(ycc, out.H, out.W) // libjpeg's chroma upsampling, as OpenCV decodes
		for i := range out.H * out.W {
			for c := range 3 {
				out.Pix[3*i+c] = uint8(m.P[c][i]*255 + 0.5)
			}
		}
		return out, nil
	}
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			var c color.NRGBA
			switch p := im.(type) {
			case *image.NRGBA:
				c = p.NRGBAAt(b.Min.X+x, b.Min.Y+y)
			default:
				r, g, bb, _ := im.At(b.Min.X+x, b.Min.Y+y).RGBA()
				c = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(bb >> 8), 255}
			}
			o := 3 * (y*out.W + x)
			out.Pix[o], out.Pix[o+1], out.Pix[o+2] = c.R, c.G, c.B
		}
	}
	return out, nil
}

// frost blends a random window of a random frost photograph into the image: c₀·x + c₁·frost. The
// photograph is first enlarged (OpenCV bicubic) by 1.1 times the factor that makes it cover the
// image; only the window is computed.
func frost(x *img, sev int, r *rand.Rand, e *env) (*img, error) {
	if e == nil || e.frostDir == "" {
		return nil, fmt.Errorf("frost needs the %s parameter (the folder of frost1.png … frost5.jpg)", paramFrostDir)
	}
	photos, err := loadFrost(e.frostDir)
	if err != nil {
		return nil, fmt.Errorf("parameter %s: %w", paramFrostDir, err)
	}
	c := frostParams[sev-1]
	ph := photos[r.IntN(5)]
	scale := 1.0
	sy, sx := float64(x.H)/float64(ph.H), float64(x.W)/float64(ph.W)
	switch {
	case ph.H >= x.H && ph.W >= x.W:
	case ph.H < x.H && ph.W >= x.W:
		scale = sy
	case ph.H >= x.H && ph.W < x.W:
		scale = sx
	default:
		scale = max(sy, sx)
	}
	scale *= 1.1
	nw, nh := int(math.Ceil(float64(ph.W)*scale)), int(math.Ceil(float64(ph.H)*scale))
	top := r.IntN(nh - x.H)
	left := r.IntN(nw - x.W)
	win := cubicWindow(ph, nh, nw, top, left, x.H, x.W)
	a, b := float32(c.image), float32(c.frost)
	for ch := range x.P {
		p := x.P[ch]
		for i := range p {
			p[i] = a*p[i] + b*float32(win[3*i+ch])/255
		}
	}
	return x.clip01(), nil
}

// cubicCoeffs are OpenCV's bicubic weights (A = −0.75) at fraction t.
func cubicCoeffs(t float64) [4]float64 {
	const a = -0.75
	var k [4]float64
	k[0] = ((a*(t+1)-5*a)*(t+1)+8*a)*(t+1) - 4*a
	k[1] = ((a+2)*t-(a+3))*t*t + 1
	k[2] = ((a+2)*(1-t)-(a+3))*(1-t)*(1-t) + 1
	k[3] = 1 - k[0] - k[1] - k[2]
	return k
}

// cubicTaps maps each output index in [off, off+n) of an in→out resize to 4 clamped source indices and weights.
func cubicTaps(in, out, off, n int) ([][4]int, [][4]float64) {
	idx, wt := make([][4]int, n), make([][4]float64, n)
	scale := float64(in) / float64(out)
	for i := range n {
		f := (float64(i+off)+0.5)*scale - 0.5
		s := int(math.Floor(f))
		wt[i] = cubicCoeffs(f - float64(s))
		for k := range 4 {
			idx[i][k] = min(max(s-1+k, 0), in-1)
		}
	}
	return idx, wt
}

// cubicWindow is the h×w window at (top, left) of cv2.resize(p, (nw, nh), INTER_CUBIC), as RGB bytes.
func cubicWindow(p *rgb8, nh, nw, top, left, h, w int) []uint8 {
	yi, yw := cubicTaps(p.H, nh, top, h)
	xi, xw := cubicTaps(p.W, nw, left, w)
	rows := map[int][]float64{} // horizontal pass of each source row the window needs
	hrow := func(sy int) []float64 {
		if r, ok := rows[sy]; ok {
			return r
		}
		r := make([]float64, 3*w)
		src := p.Pix[3*sy*p.W:]
		for j := range w {
			for k := range 4 {
				o, c := 3*xi[j][k], xw[j][k]
				r[3*j] += c * float64(src[o])
				r[3*j+1] += c * float64(src[o+1])
				r[3*j+2] += c * float64(src[o+2])
			}
		}
		rows[sy] = r
		return r
	}
	out := make([]uint8, 3*h*w)
	for i := range h {
		var rs [4][]float64
		for k := range 4 {
			rs[k] = hrow(yi[i][k])
		}
		for j := range 3 * w {
			v := yw[i][0]*rs[0][j] + yw[i][1]*rs[1][j] + yw[i][2]*rs[2][j] + yw[i][3]*rs[3][j]
			out[3*i*w+j] = uint8(min(max(math.Round(v), 0), 255))
		}
	}
	return out
}

// plasma is the reference's diamond-square height map of side n (a power of two), wrapping around,
// with noise amplitude wibble starting at 100 and divided by decay each step, scaled to [0,1].
func plasma(n int, decay float64, r *rand.Rand) []float64 {
	m := make([]float64, n*n)
	at := func(y, x int) *float64 { return &m[((y+n)%n)*n+(x+n)%n] }
	wibble := 100.0
	noise := func() float64 { return wibble * uniform(r, -wibble, wibble) }
	for step := n; step >= 2; step /= 2 {
		half := step / 2
		// squares: the centre of each square is the mean of its four corners plus noise
		for y := half; y < n; y += step {
			for x := half; x < n; x += step {
				s := *at(y-half, x-half) + *at(y+half, x-half) + *at(y-half, x+half) + *at(y+half, x+half)
				*at(y, x) = s/4 + noise()
			}
		}
		// diamonds on the corner rows: two centres (above, below) and two corners (left, right)
		for y := 0; y < n; y += step {
			for x := half; x < n; x += step {
				s := *at(y+half, x) + *at(y-half, x) + *at(y, x-half) + *at(y, x+half)
				*at(y, x) = s/4 + noise()
			}
		}
		// diamonds on the centre rows
		for y := half; y < n; y += step {
			for x := 0; x < n; x += step {
				s := *at(y, x+half) + *at(y, x-half) + *at(y-half, x) + *at(y+half, x)
				*at(y, x) = s/4 + noise()
			}
		}
		wibble /= decay
	}
	lo, hi := m[0], m[0]
	for _, v := range m {
		lo, hi = min(lo, v), max(hi, v)
	}
	for i := range m {
		m[i] = (m[i] - lo) / (hi - lo)
	}
	return m
}

// fog adds c₀ times a plasma fractal (side: the next power of two of the image's longer side, its
// top-left H×W used) and rescales by max/(max + c₀), max the image's largest value.
func fog(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	c := fogParams[sev-1]
	side := max(x.H, x.W, 3)
	n := 1 << bits.Len(uint(side-1))
	fr := plasma(n, c.decay, r)
	var peak float32
	for ch := range x.P {
		for _, v := range x.P[ch] {
			peak = max(peak, v)
		}
	}
	s := peak / (peak + float32(c.amount))
	for ch := range x.P {
		p := x.P[ch]
		for y := 0; y < x.H; y++ {
			for xx := 0; xx < x.W; xx++ {
				i := y*x.W + xx
				p[i] = (p[i] + float32(c.amount*fr[y*n+xx])) * s
			}
		}
	}
	return x.clip01(), nil
}
