package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/imagemap"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Parameter names, shared by the spec and Apply.
const (
	paramSD       = "sd"
	paramBand     = "band"
	paramContrast = "contrast"
	paramMean     = "mean"
	paramEpsilon  = "epsilon"
	paramQuantize = "quantize"
)

// Columns criticalband adds to the batch.
const (
	colNoiseRMS  = "noise_rms"        // float64, RMS of the band noise before the range rule (0 when clean)
	colShifted   = "shifted_pixels"   // int32, pixels moved so pixel + noise lands on ε or 1 − ε
	colResampled = "resampled_pixels" // int32, pixels whose noise was redrawn
)

// maxRedraws bounds the reference's "redraw until in range" loop for one pixel.
const maxRedraws = 100000

// criticalband is critical-band masking (Subramanian et al. 2023, as used by Gavrikov et al.
// 2024; ANALYSES.md D).
type criticalband struct{}

func (criticalband) Info() sdk.Info {
	return sdk.Info{
		Name: "criticalband", Version: "0.1.0",
		Description: "critical-band masking: greyscale, contrast reduced around a mean grey, plus Gaussian noise " +
			"band-limited to one octave of a Laplacian pyramid (Subramanian et al. 2023)",
		Params: []params.Spec{
			{Name: paramSD, Type: params.Float, Required: true, Min: params.Bound(0), Max: params.Bound(1),
				Description: "SD of the Gaussian noise before band-limiting (reference grid 0.02, 0.04, 0.08, 0.16); 0 gives the clean image"},
			{Name: paramBand, Type: params.Int, Required: true, Min: params.Bound(-1), Max: params.Bound(15),
				Description: "octave band of the noise, 0 = coarsest (the pyramid's low-pass residual) up to 6 = finest for 224×224 " +
					"(centre about 1.75·2^band cycles/image); -1 gives the clean image"},
			{Name: paramContrast, Type: params.Float, Default: 0.2, Min: params.Bound(0), Max: params.Bound(1),
				Description: "factor on the deviation from the image's mean grey"},
			{Name: paramMean, Type: params.Float, Default: 0.449, Min: params.Bound(0), Max: params.Bound(1),
				Description: "grey level the contrast-reduced image is centred on"},
			{Name: paramEpsilon, Type: params.Float, Default: 0.1, Min: params.Bound(0), Max: params.Bound(0.5),
				Description: "where pixel + noise leaves [0,1] the pixel is moved so the sum lands on epsilon or 1 − epsilon"},
			{Name: paramQuantize, Type: params.Bool, Default: true,
				Description: "greyscale through 8-bit luma as the reference's PIL convert('L') does; false: 0.299R+0.587G+0.114B in float"},
		},
		Requires:     []string{arrowio.ColImage},
		PrimaryParam: paramSD,
	}
}

// config is one call's parameters.
type config struct {
	sd, contrast, mean, epsilon float64
	band                        int
	quantize                    bool
}

// clean says the call asks for the contrast-reduced image without noise.
func (c config) clean() bool { return c.sd == 0 || c.band < 0 }

// stats is what one image's masking reports.
type stats struct {
	noiseRMS           float64
	shifted, resampled int32
}

func (criticalband) Apply(ctx context.Context, p params.Values, batch arrow.RecordBatch, env *sdk.Env) (arrow.RecordBatch, error) {
	cfg := config{sd: p.Float(paramSD), band: p.Int(paramBand), contrast: p.Float(paramContrast),
		mean: p.Float(paramMean), epsilon: p.Float(paramEpsilon), quantize: p.Bool(paramQuantize)}
	shape, err := imagemap.ImageShape(batch)
	if err != nil {
		return nil, err
	}
	if shape.C != 3 && shape.C != 1 {
		return nil, fmt.Errorf("images have %d channels, want 3 (RGB) or 1 (grey)", shape.C)
	}
	if n := levels(shape.H, shape.W); !cfg.clean() && cfg.band >= n {
		return nil, fmt.Errorf("band %d needs a pyramid of %d levels; %d×%d images give %d (bands 0..%d)",
			cfg.band, cfg.band+1, shape.H, shape.W, n, n-1)
	}
	all := make([]stats, batch.NumRows())
	seeds := sdk.RowSeeds(env.Seed, batch)
	out, err := imagemap.Map(ctx, batch, env.Mem, func(s imagemap.Shape) (imagemap.Func, error) {
		return func(row int, dst, src []float32) error {
			img := contrastReduced(greyscale(src, s, cfg.quantize), cfg.contrast, cfg.mean)
			st, err := mask(img, cfg, rand.New(rand.NewPCG(seeds[row], 0)))
			if err != nil {
				return err
			}
			all[row] = st
			n := s.H * s.W
			for c := 0; c < s.C; c++ {
				for i, v := range img.v {
					dst[c*n+i] = float32(v)
				}
			}
			return nil
		}, nil
	})
	if err != nil {
		return nil, err
	}
	defer out.Release()
	return withStats(out, all, env)
}

// greyscale is the ITU-R 601 luma of an RGB image (or the single channel of a grey one).
// quantize follows the reference's PIL convert("L") on 8-bit pixels:
// L = (19595·R + 38470·G + 7471·B + 2^15) >> 16, then /255.
func greyscale(src []float32, s imagemap.Shape, quantize bool) plane {
	g := newPlane(s.H, s.W)
	n := s.H * s.W
	to8 := func(v float32) int { return int(min(255, max(0, math.Round(float64(v)*255)))) }
	for i := range g.v {
		if s.C == 1 {
			g.v[i] = float64(src[i])
			if quantize {
				g.v[i] = float64(to8(src[i])) / 255
			}
			continue
		}
		r, gr, b := src[i], src[n+i], src[2*n+i]
		if quantize {
			g.v[i] = float64((19595*to8(r)+38470*to8(gr)+7471*to8(b)+1<<15)>>16) / 255
		} else {
			g.v[i] = 0.299*float64(r) + 0.587*float64(gr) + 0.114*float64(b)
		}
	}
	return g
}

// contrastReduced returns (x − mean(x))·contrast + level, in place.
func contrastReduced(g plane, contrast, level float64) plane {
	m := 0.0
	for _, v := range g.v {
		m += v
	}
	m /= float64(len(g.v))
	for i, v := range g.v {
		g.v[i] = (v-m)*contrast + level
	}
	return g
}

// mask adds the band-limited noise to img in place, following the reference's solomon_filter
// after its contrast reduction: one Gaussian draw per pixel, the band's reconstruction rescaled
// to the RMS of the finest band of the same draw, then the out-of-range rule.
func mask(img plane, cfg config, rng *rand.Rand) (stats, error) {
	if cfg.clean() {
		return stats{}, nil
	}
	noise := newPlane(img.h, img.w)
	for i := range noise.v {
		noise.v[i] = rng.NormFloat64() * cfg.sd
	}
	sf, err := bandNoise(noise, cfg.band)
	if err != nil {
		return stats{}, err
	}
	st := stats{noiseRMS: rms(sf)}
	st.shifted, st.resampled, err = fitRange(img, sf, cfg.epsilon, cfg.sd, rng)
	return st, err
}

// bandNoise returns band `band` (0 = coarsest) of noise's Laplacian pyramid at full size,
// rescaled to the RMS of the finest band (pyramid level 0) of the same noise.
func bandNoise(noise plane, band int) (plane, error) {
	pyr := buildLaplacian(noise)
	n := len(pyr.bands)
	if band < 0 || band >= n {
		return plane{}, fmt.Errorf("band %d is outside the pyramid's %d levels", band, n)
	}
	recon := pyr.recon(n - 1 - band)
	r := rms(recon)
	if r == 0 {
		return plane{}, fmt.Errorf("band %d of the noise is zero", band)
	}
	scale := rms(pyr.recon(0)) / r
	for i := range recon.v {
		recon.v[i] *= scale
	}
	return recon, nil
}

// fitRange applies the reference's out-of-range rule pixel by pixel (row-major) and adds the
// noise to img: where img + noise leaves [0,1], the pixel moves so that the sum lands on ε
// (below) or 1 − ε (above); when that move would take the pixel itself out of [0,1], the
// pixel keeps its value and its noise is redrawn from N(0, sd²) until the sum fits.
func fitRange(img, noise plane, eps, sd float64, rng *rand.Rand) (shifted, resampled int32, err error) {
	for i, x := range img.v {
		n := noise.v[i]
		if v := x + n; v >= 0 && v <= 1 {
			img.v[i] = v
			continue
		}
		moved, outside := 1-eps-n, false
		if x+n < 0 {
			moved = eps - n
			outside = moved > 1
		} else {
			outside = moved < 0
		}
		if !outside {
			img.v[i] = moved + n
			shifted++
			continue
		}
		tries := 0
		for n+x < 0 || n+x > 1 {
			if tries++; tries > maxRedraws {
				return shifted, resampled, fmt.Errorf("pixel %d (grey %v) stays outside [0,1] after %d noise draws of SD %v", i, x, maxRedraws, sd)
			}
			n = rng.NormFloat64() * sd
		}
		img.v[i] = x + n
		resampled++
	}
	return shifted, resampled, nil
}

// withStats returns out with the per-image masking statistics as columns.
func withStats(out arrow.RecordBatch, all []stats, env *sdk.Env) (arrow.RecordBatch, error) {
	rb := array.NewFloat64Builder(env.Mem)
	defer rb.Release()
	sb := array.NewInt32Builder(env.Mem)
	defer sb.Release()
	xb := array.NewInt32Builder(env.Mem)
	defer xb.Release()
	for _, s := range all {
		rb.Append(s.noiseRMS)
		sb.Append(s.shifted)
		xb.Append(s.resampled)
	}
	r, s, x := rb.NewArray(), sb.NewArray(), xb.NewArray()
	defer r.Release()
	defer s.Release()
	defer x.Release()
	return imagemap.AddColumns(out,
		imagemap.Column{Field: arrow.Field{Name: colNoiseRMS, Type: arrow.PrimitiveTypes.Float64}, Array: r},
		imagemap.Column{Field: arrow.Field{Name: colShifted, Type: arrow.PrimitiveTypes.Int32}, Array: s},
		imagemap.Column{Field: arrow.Field{Name: colResampled, Type: arrow.PrimitiveTypes.Int32}, Array: x})
}
