package synth

import (
	"image"
	"math"
	"testing"
)

// The cues must really be in the pixels: a simple statistic, fitted on single-cue references,
// recovers the texture class of cue-conflict images and the shape class of silhouettes.
// noiseVar is the luminance variance of the generator's pixel noise: uniform in ±pixelNoise.
const noiseVar = pixelNoise * pixelNoise / 3

// textureFeatures are the luminance autocorrelation at every lag up to 5 pixels (one half-plane),
// over pixel pairs both fully inside the silhouette: they capture the texture's orientation and
// frequency, and the silhouette's edge adds nothing. The variance is corrected for pixel noise.
// Colour is random per image and plays no part.
func textureFeatures(img *image.RGBA, cover []float32) []float64 {
	const maxLag = 5
	size := img.Bounds().Dx()
	lum := make([]float64, size*size)
	var sum, n float64
	for p := range lum {
		px := img.Pix[4*p : 4*p+3]
		lum[p] = luminance(rgb{float64(px[0]), float64(px[1]), float64(px[2])}) / 255
		if cover[p] == 1 {
			sum, n = sum+lum[p], n+1
		}
	}
	var variance float64
	for p := range lum {
		lum[p] -= sum / n
		if cover[p] == 1 {
			variance += lum[p] * lum[p] / n
		}
	}
	variance = max(variance-noiseVar, 1e-9)
	var f []float64
	for dy := 0; dy <= maxLag; dy++ {
		for dx := -maxLag; dx <= maxLag; dx++ {
			if (dy == 0 && dx <= 0) || dx*dx+dy*dy > maxLag*maxLag {
				continue
			}
			var c, m float64
			for y := 0; y+dy < size; y++ {
				for x := max(0, -dx); x < size-max(0, dx); x++ {
					p, q := y*size+x, (y+dy)*size+x+dx
					if cover[p] == 1 && cover[q] == 1 {
						c += lum[p] * lum[q]
						m++
					}
				}
			}
			f = append(f, c/max(m, 1)/variance)
		}
	}
	return f
}

// shapeFeatures are invariant to position, scale and rotation: the first four Hu moments of the
// coverage mask, the ratio of its principal axes, the coverage at its centre of mass (holes) and
// its compactness (perimeter² / area, the perimeter from the mask's gradient).
func shapeFeatures(cover []float32, size int) []float64 {
	var a, cx, cy float64
	for p, c := range cover {
		w := float64(c)
		a += w
		cx += w * float64(p%size)
		cy += w * float64(p/size)
	}
	cx, cy = cx/a, cy/a
	var mu [4][4]float64 // central moments μ_pq, p + q ≤ 3
	for p, c := range cover {
		dx, dy := float64(p%size)-cx, float64(p/size)-cy
		for i := 0; i < 4; i++ {
			for j := 0; i+j < 4; j++ {
				mu[i][j] += float64(c) * math.Pow(dx, float64(i)) * math.Pow(dy, float64(j))
			}
		}
	}
	eta := func(i, j int) float64 { return mu[i][j] / math.Pow(a, 1+float64(i+j)/2) }
	hu1 := eta(2, 0) + eta(0, 2)
	hu2 := math.Pow(eta(2, 0)-eta(0, 2), 2) + 4*eta(1, 1)*eta(1, 1)
	hu3 := math.Pow(eta(3, 0)-3*eta(1, 2), 2) + math.Pow(3*eta(2, 1)-eta(0, 3), 2)
	hu4 := math.Pow(eta(3, 0)+eta(1, 2), 2) + math.Pow(eta(2, 1)+eta(0, 3), 2)
	d := math.Sqrt(hu2)
	axes := (hu1 - d) / (hu1 + d)
	centre := float64(cover[int(math.Round(cy))*size+int(math.Round(cx))])
	perim := 0.0
	for y := 1; y < size-1; y++ {
		for x := 1; x < size-1; x++ {
			gx := float64(cover[y*size+x+1]-cover[y*size+x-1]) / 2
			gy := float64(cover[(y+1)*size+x]-cover[(y-1)*size+x]) / 2
			perim += math.Hypot(gx, gy)
		}
	}
	return []float64{hu1, math.Sqrt(hu2), math.Cbrt(hu3), math.Cbrt(hu4), axes, centre, perim * perim / a}
}

// nearestCentroid fits per-class centroids of features standardised by their overall spread.
type nearestCentroid struct {
	centroids [][]float64
	scale     []float64
}

func fitCentroids(feats [][]float64, labels []int, k int) nearestCentroid {
	dim := len(feats[0])
	nc := nearestCentroid{centroids: make([][]float64, k), scale: make([]float64, dim)}
	counts := make([]float64, k)
	mean := make([]float64, dim)
	for i, f := range feats {
		if nc.centroids[labels[i]] == nil {
			nc.centroids[labels[i]] = make([]float64, dim)
		}
		counts[labels[i]]++
		for j, v := range f {
			nc.centroids[labels[i]][j] += v
			mean[j] += v / float64(len(feats))
		}
	}
	for _, f := range feats {
		for j, v := range f {
			nc.scale[j] += (v - mean[j]) * (v - mean[j]) / float64(len(feats))
		}
	}
	for c := range nc.centroids {
		for j := range nc.centroids[c] {
			nc.centroids[c][j] /= counts[c]
		}
	}
	for j := range nc.scale {
		nc.scale[j] = math.Sqrt(nc.scale[j]) + 1e-12
	}
	return nc
}

func (nc nearestCentroid) predict(f []float64) int {
	best, bestD := -1, math.Inf(1)
	for c, m := range nc.centroids {
		d := 0.0
		for j, v := range f {
			z := (v - m[j]) / nc.scale[j]
			d += z * z
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func TestCuesRecoverable(t *testing.T) {
	shape := func(it Item) int { return it.Shape }
	texture := func(it Item) int { return it.Texture }
	cases := []struct {
		name       string
		ref, test  Config // fit the statistic on ref, apply it to test
		features   func(img *image.RGBA, cover []float32) []float64
		cue, other func(Item) int
	}{
		{"texture of cue-conflict images from texture-only references",
			Config{Seed: 21, PerPair: 25, Set: TextureOnly}, Config{Seed: 22, PerPair: 5, Set: Conflict},
			textureFeatures, texture, shape},
		{"shape of cue-conflict silhouettes from shape-only references",
			Config{Seed: 31, PerPair: 40, Set: ShapeOnly}, Config{Seed: 32, PerPair: 3, Set: Conflict},
			func(img *image.RGBA, cover []float32) []float64 { return shapeFeatures(cover, img.Bounds().Dx()) },
			shape, texture},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := mustNew(t, tc.ref)
			var feats [][]float64
			var labels []int
			for _, it := range ref.Items() {
				feats = append(feats, tc.features(ref.render(it)))
				labels = append(labels, it.Label())
			}
			nc := fitCentroids(feats, labels, len(ref.Classes()))

			test := mustNew(t, tc.test)
			items := test.Items()
			hits, otherHits := 0, 0
			for _, it := range items {
				switch nc.predict(tc.features(test.render(it))) {
				case tc.cue(it):
					hits++
				case tc.other(it):
					otherHits++
				}
			}
			n := float64(len(items))
			t.Logf("%d images: the cue's class %.3f, the other cue's class %.3f", len(items), float64(hits)/n, float64(otherHits)/n)
			if float64(hits)/n < 0.9 {
				t.Errorf("class recovered for %.3f of the images, want ≥ 0.9", float64(hits)/n)
			}
		})
	}
}
