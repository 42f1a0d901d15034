// Package solarization is the solarize transform (Gavrikov et al., ANALYSES.md F) shared by the
// solarize and randsol plugins.
package solarization

// Apply writes solarize(src, t) to dst: x where x < t, else 1 − x, for every value. The
// comparison and the inversion are done in float32, as kornia.enhance.solarize does on float32
// tensors, so a pixel exactly equal to t is inverted.
func Apply(dst, src []float32, t float32) {
	for i, x := range src {
		if x < t {
			dst[i] = x
		} else {
			dst[i] = 1 - x
		}
	}
}
