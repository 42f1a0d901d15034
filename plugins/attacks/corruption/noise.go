package main

import (
	"math"
	"math/rand/v2"
	"sync"
)

// Severity tables of the noise corruptions (imagecorruptions/corruptions.py).
var (
	gaussianNoiseSD = [5]float64{0.08, 0.12, 0.18, 0.26, 0.38}
	shotNoiseRate   = [5]float64{60, 25, 12, 5, 3}
	impulseAmount   = [5]float64{0.03, 0.06, 0.09, 0.17, 0.27}
	speckleSD       = [5]float64{0.15, 0.2, 0.35, 0.45, 0.6}
)

// gaussianNoise adds N(0, c²) to every value.
func gaussianNoise(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	sd := gaussianNoiseSD[sev-1]
	for c := range x.P {
		for i, v := range x.P[c] {
			x.P[c][i] = v + float32(sd*r.NormFloat64())
		}
	}
	return x.clip01(), nil
}

// speckleNoise adds x·N(0, c²) to every value x.
func speckleNoise(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	sd := speckleSD[sev-1]
	for c := range x.P {
		for i, v := range x.P[c] {
			x.P[c][i] = v + v*float32(sd*r.NormFloat64())
		}
	}
	return x.clip01(), nil
}

// impulseNoise is skimage's salt-and-pepper noise: each value independently becomes, with
// probability c, 1 or 0 with equal odds.
func impulseNoise(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	amount := impulseAmount[sev-1]
	for c := range x.P {
		for i := range x.P[c] {
			if r.Float64() < amount {
				if r.Float64() < 0.5 {
					x.P[c][i] = 1
				} else {
					x.P[c][i] = 0
				}
			}
		}
	}
	return x, nil
}

// poissonCDFs are, per shot-noise severity, the cumulative Poisson distributions of rate level·c/255
// for each of the 256 input levels: the input is a uint8 image, so inversion against a table is
// exact and fast.
var poissonCDFs [5]struct {
	once sync.Once
	cdf  [256][]float64
}

func poissonTable(sev int) *[256][]float64 {
	t := &poissonCDFs[sev-1]
	t.once.Do(func() {
		rate := shotNoiseRate[sev-1]
		for level := range 256 {
			lam := float64(level) / 255 * rate
			var cdf []float64
			p := math.Exp(-lam)
			s := 0.0
			for k := 0; ; k++ {
				if k > 0 {
					p *= lam / float64(k)
				}
				s += p
				cdf = append(cdf, s)
				if float64(k) > lam && (1-s < 1e-16 || p < 1e-300) {
					break
				}
			}
			t.cdf[level] = cdf
		}
	})
	return &t.cdf
}

// shotNoise replaces each value x by Poisson(x·c)/c.
func shotNoise(x *img, sev int, r *rand.Rand, _ *env) (*img, error) {
	rate := float32(shotNoiseRate[sev-1])
	cdfs := poissonTable(sev)
	for c := range x.P {
		for i, v := range x.P[c] {
			cdf := cdfs[quant(float64(v))]
			u := r.Float64()
			lo, hi := 0, len(cdf)-1 // smallest k with cdf[k] > u; the tail beyond the table has mass < 1e-16
			for lo < hi {
				mid := (lo + hi) / 2
				if cdf[mid] > u {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			x.P[c][i] = float32(lo) / rate
		}
	}
	return x.clip01(), nil
}
