package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// supersample is the number of samples per pixel side: silhouettes and textures are drawn at
// supersample² points per pixel and box-averaged, which anti-aliases edges.
const supersample = 4

// Scale range of a silhouette: its unit-area frame is scaled by this fraction of the image side,
// so a silhouette covers about unitArea·scale² of the image (12–29 %).
const (
	minScale = 0.24
	maxScale = 0.36
)

// pixelNoise is the amplitude of the uniform noise added to every pixel (same in all channels).
const pixelNoise = 0.03

// placedShape is a silhouette at a random centre, scale, rotation and aspect ratio.
type placedShape struct {
	f             shapeFunc
	cx, cy, scale float64
	cos, sin, asp float64
}

func placeShape(c class, rng *rand.Rand) placedShape {
	scale := uniform(rng, minScale, maxScale)
	// Keep the centre far enough from the border that at most a sliver of the silhouette is cut.
	margin := min(0.5, 0.95*c.extent*scale)
	ps := placedShape{f: c.shape, scale: scale}
	ps.cx, ps.cy = uniform(rng, margin, 1-margin), uniform(rng, margin, 1-margin)
	a := uniform(rng, 0, 2*math.Pi)
	ps.cos, ps.sin = math.Cos(a), math.Sin(a)
	ps.asp = uniform(rng, 0.87, 1.15)
	return ps
}

// inside reports whether image coordinates (u, v) fall inside the silhouette.
func (ps *placedShape) inside(u, v float64) bool {
	du, dv := (u-ps.cx)/ps.scale, (v-ps.cy)/ps.scale
	x := (du*ps.cos + dv*ps.sin) / ps.asp
	y := (-du*ps.sin + dv*ps.cos) * ps.asp
	return ps.f(x, y)
}

// background is a low-saturation colour with smooth luminance noise and pixel noise.
type background struct {
	base  rgb
	noise valueNoise
}

func newBackground(rng *rand.Rand) background {
	l := uniform(rng, 0.15, 0.85)
	var b background
	for c := range 3 {
		b.base[c] = l + uniform(rng, -0.08, 0.08)
	}
	b.noise = newValueNoise(rng, 4)
	return b
}

func (b *background) colour(u, v float64) rgb {
	d := 0.24 * (b.noise.at(u, v) - 0.5)
	return rgb{b.base[0] + d, b.base[1] + d, b.base[2] + d}
}

// luminance returns the ITU-R 601 luma of c.
func luminance(c rgb) float64 { return 0.299*c[0] + 0.587*c[1] + 0.114*c[2] }

// contrastingLevel draws a level in [lo, hi] at least minFigureContrast away from l, on the side
// of l with more room.
func contrastingLevel(l, lo, hi float64, rng *rand.Rand) float64 {
	if l < (lo+hi)/2 {
		return uniform(rng, min(l+minFigureContrast, hi), hi)
	}
	return uniform(rng, lo, max(l-minFigureContrast, lo))
}

// flatFill returns a neutral grey that contrasts with the background.
func flatFill(bg background, rng *rand.Rand) rgb {
	g := contrastingLevel(luminance(bg.base), 0, 1, rng)
	return rgb{g, g, g}
}

// render draws it and returns the image with the silhouette's coverage per pixel (row-major, in
// [0, 1]; all ones for TextureOnly items).
func (g *Generator) render(it Item) (*image.RGBA, []float32) {
	rng := g.itemRand(it)
	size := g.cfg.Size
	bg := newBackground(rng)
	var shape *placedShape
	if it.Shape >= 0 {
		ps := placeShape(g.classes[it.Shape], rng)
		shape = &ps
	}
	var fill func(u, v float64) rgb
	if it.Texture >= 0 {
		ti := newTexInstance(g.classes[it.Texture].tex, luminance(bg.base), rng)
		fill = ti.colour
	} else {
		c := flatFill(bg, rng)
		fill = func(float64, float64) rgb { return c }
	}

	img := image.NewRGBA(image.Rect(0, 0, size, size))
	cover := make([]float32, size*size)
	const n = supersample * supersample
	step := 1 / float64(size*supersample)
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var sum rgb
			in := 0
			for sy := 0; sy < supersample; sy++ {
				v := float64(py*supersample+sy)*step + step/2
				for sx := 0; sx < supersample; sx++ {
					u := float64(px*supersample+sx)*step + step/2
					var c rgb
					if shape == nil || shape.inside(u, v) {
						c = fill(u, v)
						in++
					} else {
						c = bg.colour(u, v)
					}
					sum[0], sum[1], sum[2] = sum[0]+c[0], sum[1]+c[1], sum[2]+c[2]
				}
			}
			// Sensor-like pixel noise, drawn in pixel order so the stream stays deterministic.
			noise := pixelNoise * (2*rng.Float64() - 1)
			o := img.PixOffset(px, py)
			for c := range 3 {
				img.Pix[o+c] = uint8(math.Round(255 * clamp01(sum[c]/n+noise)))
			}
			img.Pix[o+3] = 255
			cover[py*size+px] = float32(in) / n
		}
	}
	return img, cover
}
