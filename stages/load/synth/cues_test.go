package synth

import (
	"image"
	"math"
	"testing"
)

// The cues must really be in the pixels: a simple statistic, fitted on single-cue references,
// recovers the texture class of cue-conflict images and the shape class of silhouettes.

// textureFeatures are the luminance power spectrum of the pixels fully inside the silhouette (mean
// removed, zero outside), summed in frequency bands × orientation sectors and normalised to sum 1.
// Colour is random per image and plays no part.
func textureFeatures(img *image.RGBA, cover []float32) []float64 {
	size := img.Bounds().Dx()
	lum := make([]complex128, size*size)
	var sum, n float64
	for p := range lum {
		if cover[p] == 1 {
			px := img.Pix[4*p : 4*p+3]
			l := luminance(rgb{float64(px[0]), float64(px[1]), float64(px[2])}) / 255
			lum[p] = complex(l, 0)
			sum, n = sum+l, n+1
		}
	}
	for p := range lum {
		if cover[p] == 1 {
			lum[p] -= complex(sum/n, 0)
		}
	}
	spec := dft2(lum, size)
	bands := []float64{1, 3, 6, 10, 16, math.Inf(1)} // cycles per image
	const sectors = 4
	f := make([]float64, (len(bands)-1)*sectors)
	total := 0.0
	for ky := 0; ky < size; ky++ {
		for kx := 0; kx < size; kx++ {
			fx, fy := float64((kx+size/2)%size-size/2), float64((ky+size/2)%size-size/2)
			r := math.Hypot(fx, fy)
			b := 0
			for b < len(bands)-1 && r >= bands[b+1] {
				b++
			}
			if r < bands[0] {
				continue
			}
			angle := math.Mod(math.Atan2(fy, fx)+math.Pi+math.Pi/(2*sectors), math.Pi)
			c := spec[ky*size+kx]
			power := real(c)*real(c) + imag(c)*imag(c)
			f[b*sectors+int(angle/(math.Pi/sectors))%sectors] += power
			total += power
		}
	}
	for i := range f {
		f[i] = math.Sqrt(f[i] / total)
	}
	return f
}

// dft2 is the 2-D discrete Fourier transform of a size×size row-major array, rows then columns.
func dft2(x []complex128, size int) []complex128 {
	tw := make([]complex128, size)
	for k := range tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(size))
		tw[k] = complex(c, s)
	}
	line := func(get func(i int) complex128, set func(k int, v complex128)) {
		for k := 0; k < size; k++ {
			var acc complex128
			for i := 0; i < size; i++ {
				acc += get(i) * tw[(i*k)%size]
			}
			set(k, acc)
		}
	}
	rows := make([]complex128, len(x))
	for y := 0; y < size; y++ {
		line(func(i int) complex128 { return x[y*size+i] }, func(k int, v complex128) { rows[y*size+k] = v })
	}
	out := make([]complex128, len(x))
	for kx := 0; kx < size; kx++ {
		line(func(i int) complex128 { return rows[i*size+kx] }, func(k int, v complex128) { out[k*size+kx] = v })
	}
	return out
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

func TestDFT2KnownAnswer(t *testing.T) {
	// cos(2π·3x/8) along rows: all power at (kx, ky) = (±3, 0), each with amplitude N²/2.
	const size = 8
	x := make([]complex128, size*size)
	for p := range x {
		x[p] = complex(math.Cos(2*math.Pi*3*float64(p%size)/size), 0)
	}
	spec := dft2(x, size)
	for p, v := range spec {
		want := 0.0
		if p == 3 || p == size-3 {
			want = size * size / 2
		}
		if math.Abs(real(v)-want) > 1e-9 || math.Abs(imag(v)) > 1e-9 {
			t.Errorf("bin (%d, %d) = %v, want %v", p%size, p/size, v, want)
		}
	}
}

func TestTextureRecoverableFromConflictImages(t *testing.T) {
	ref := mustNew(t, Config{Seed: 21, PerPair: 25, Set: TextureOnly})
	var feats [][]float64
	var labels []int
	for _, it := range ref.Items() {
		img, cover := ref.render(it)
		feats = append(feats, textureFeatures(img, cover))
		labels = append(labels, it.Texture)
	}
	nc := fitCentroids(feats, labels, len(ref.Classes()))

	test := mustNew(t, Config{Seed: 22, PerPair: 5, Set: Conflict})
	items := test.Items()
	texHits, shapeHits := 0, 0
	for _, it := range items {
		img, cover := test.render(it)
		switch nc.predict(textureFeatures(img, cover)) {
		case it.Texture:
			texHits++
		case it.Shape:
			shapeHits++
		}
	}
	acc := float64(texHits) / float64(len(items))
	t.Logf("texture statistic on %d cue-conflict images: texture class %.3f, shape class %.3f",
		len(items), acc, float64(shapeHits)/float64(len(items)))
	if acc < 0.9 {
		t.Errorf("texture class recovered for %.3f of cue-conflict images, want ≥ 0.9", acc)
	}
}

func TestShapeRecoverableFromSilhouettes(t *testing.T) {
	fit := mustNew(t, Config{Seed: 31, PerPair: 40, Set: ShapeOnly})
	size := fit.Config().Size
	var feats [][]float64
	var labels []int
	for _, it := range fit.Items() {
		_, cover := fit.render(it)
		feats = append(feats, shapeFeatures(cover, size))
		labels = append(labels, it.Shape)
	}
	nc := fitCentroids(feats, labels, len(fit.Classes()))

	test := mustNew(t, Config{Seed: 32, PerPair: 3, Set: Conflict})
	items := test.Items()
	hits := 0
	for _, it := range items {
		_, cover := test.render(it)
		if nc.predict(shapeFeatures(cover, size)) == it.Shape {
			hits++
		}
	}
	acc := float64(hits) / float64(len(items))
	t.Logf("shape statistic on %d cue-conflict silhouettes: shape class %.3f", len(items), acc)
	if acc < 0.9 {
		t.Errorf("shape class recovered for %.3f of cue-conflict silhouettes, want ≥ 0.9", acc)
	}
}
