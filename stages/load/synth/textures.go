package synth

import (
	"math"
	"math/rand/v2"
)

// pattern is a texture's spatial structure; the palette colours it.
type pattern int

const (
	stripes    pattern = iota // sinusoid thresholded to bars
	dots                      // round dots on a square lattice
	checkers                  // product of two sinusoids thresholded
	waves                     // stripes displaced by a slow sinusoid
	blotches                  // value noise thresholded: irregular blobs
	grid                      // thin lines in two directions
	rings                     // concentric circles about a random centre
	zigzag                    // stripes displaced by a triangle wave
	crosshatch                // thin lines in the two diagonal directions
)

// rgb is a colour with channels in [0, 1].
type rgb [3]float64

// texture is a texture class: a pattern at a frequency (cycles per image side) and orientation.
// Its two colours are drawn per image, so colour carries no class information.
type texture struct {
	pattern pattern
	freq    float64
	angle   float64 // radians
	desc    string
}

// Contrast range of a texture: the distance between its two colours along their colour direction.
const (
	texMinContrast = 0.08
	texMaxContrast = 0.16
)

// minFigureContrast is the least luminance difference between a silhouette's fill and the mean
// background, so that shapes stay visible whatever fills them.
const minFigureContrast = 0.25

// texInstance is one random draw of a texture class: jittered frequency, orientation, phase and
// palette, and the noise lattice where the pattern needs one.
type texInstance struct {
	t        texture
	freq     float64
	cos, sin float64
	ph0, ph1 float64
	cx, cy   float64
	c0, c1   rgb
	lattice  valueNoise
}

// newTexInstance draws one instance of t from rng, its mean luminance at least minFigureContrast
// away from bgLum.
func newTexInstance(t texture, bgLum float64, rng *rand.Rand) texInstance {
	ti := texInstance{t: t}
	ti.freq = t.freq * uniform(rng, 0.85, 1.15)
	a := t.angle + uniform(rng, -0.2, 0.2)
	ti.cos, ti.sin = math.Cos(a), math.Sin(a)
	ti.ph0, ti.ph1 = uniform(rng, 0, 2*math.Pi), uniform(rng, 0, 2*math.Pi)
	ti.cx, ti.cy = uniform(rng, 0.2, 0.8), uniform(rng, 0.2, 0.8)
	ti.c0, ti.c1 = drawPalette(bgLum, rng)
	if t.pattern == blotches {
		ti.lattice = newValueNoise(rng, int(math.Ceil(ti.freq)))
	}
	return ti
}

// colour returns the texture's colour at image coordinates (u, v) in [0, 1]².
func (ti *texInstance) colour(u, v float64) rgb {
	if ti.weight(u, v) {
		return ti.c1
	}
	return ti.c0
}

// weight reports whether (u, v) lies on the pattern's foreground (colour c1).
func (ti *texInstance) weight(u, v float64) bool {
	// Rotated coordinates, in cycles.
	p := ti.freq * (u*ti.cos + v*ti.sin)
	q := ti.freq * (-u*ti.sin + v*ti.cos)
	const tau = 2 * math.Pi
	switch ti.t.pattern {
	case stripes:
		return math.Sin(tau*p+ti.ph0) > 0
	case dots:
		dx := p + ti.ph0/tau - math.Round(p+ti.ph0/tau)
		dy := q + ti.ph1/tau - math.Round(q+ti.ph1/tau)
		return dx*dx+dy*dy < 0.32*0.32
	case checkers:
		return math.Sin(tau*p+ti.ph0)*math.Sin(tau*q+ti.ph1) > 0
	case waves:
		return math.Sin(tau*(q+0.6*math.Sin(tau*p/ti.freq*3+ti.ph1))+ti.ph0) > 0
	case blotches:
		return ti.lattice.at(u, v) > 0.5
	case grid:
		return frac(p+ti.ph0/tau) < 0.22 || frac(q+ti.ph1/tau) < 0.22
	case rings:
		du, dv := u-ti.cx, v-ti.cy
		return math.Sin(tau*ti.freq*math.Sqrt(du*du+dv*dv)+ti.ph0) > 0
	case zigzag:
		tri := math.Abs(frac(p/2+ti.ph1/tau)*2-1)*2 - 1
		return math.Sin(tau*(q+0.5*tri)+ti.ph0) > 0
	case crosshatch:
		return frac((p+q)/math.Sqrt2+ti.ph0/tau) < 0.25 || frac((p-q)/math.Sqrt2+ti.ph1/tau) < 0.25
	}
	return false
}

// drawPalette returns two colours about a random mid colour whose luminance contrasts with bgLum,
// apart by a random contrast along a mostly-luminance direction with a chromatic tilt, in random
// order.
func drawPalette(bgLum float64, rng *rand.Rand) (rgb, rgb) {
	l := contrastingLevel(bgLum, 0.1, 0.9, rng)
	a := uniform(rng, texMinContrast, texMaxContrast)
	var c0, c1 rgb
	for c := range 3 {
		m := l + uniform(rng, -0.1, 0.1)
		d := a / 2 * uniform(rng, 0.5, 1.5)
		c0[c], c1[c] = clamp01(m-d), clamp01(m+d)
	}
	if rng.IntN(2) == 1 {
		return c1, c0
	}
	return c0, c1
}

// valueNoise is smooth random noise in [0, 1]: random values on an n×n lattice over the image,
// interpolated with smoothstep weights.
type valueNoise struct {
	n      int
	values []float64
}

func newValueNoise(rng *rand.Rand, n int) valueNoise {
	vn := valueNoise{n: n, values: make([]float64, (n+1)*(n+1))}
	for i := range vn.values {
		vn.values[i] = rng.Float64()
	}
	return vn
}

// at returns the noise at image coordinates (u, v) in [0, 1]².
func (vn *valueNoise) at(u, v float64) float64 {
	x, y := u*float64(vn.n), v*float64(vn.n)
	x0, y0 := min(int(x), vn.n-1), min(int(y), vn.n-1)
	fx, fy := smooth(x-float64(x0)), smooth(y-float64(y0))
	row := vn.n + 1
	a := vn.values[y0*row+x0]
	b := vn.values[y0*row+x0+1]
	c := vn.values[(y0+1)*row+x0]
	d := vn.values[(y0+1)*row+x0+1]
	return (a*(1-fx)+b*fx)*(1-fy) + (c*(1-fx)+d*fx)*fy
}

func smooth(t float64) float64 { return t * t * (3 - 2*t) }

func frac(x float64) float64 { return x - math.Floor(x) }

func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

func clamp01(x float64) float64 { return min(max(x, 0), 1) }
