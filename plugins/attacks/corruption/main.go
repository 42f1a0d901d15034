// Command vistudy-perturbation-corruption is the common-corruptions plugin (ImageNet-C, ANALYSES.md E):
// the 15 corruptions of Hendrycks & Dietterich and the four extra ones of imagecorruptions, at
// severities 1–5, generated on the fly and seeded per sample.
package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/imagemap"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func main() { sdk.ServePerturbation(corruption{}) }

// Parameter names and the column the plugin adds.
const (
	paramName     = "name"
	paramSeverity = "severity"
	paramFrostDir = "frost_dir"
	// ColCorruption is the column with each row's corruption name.
	ColCorruption = "corruption"
	// nameAll stands for the 15 common corruptions in a sweep.
	nameAll = "all"
)

// env is what a corruption needs besides the image, severity and random stream.
type env struct {
	frostDir string
}

// corruptFunc corrupts x (three planes in [0,1], uint8 levels) at severity 1–5; it may modify x and
// returns the result with values in [0,1].
type corruptFunc func(x *img, sev int, r *rand.Rand, e *env) (*img, error)

// corruptions lists every corruption in imagecorruptions' order: the 15 common ones, then the 4 extra.
var corruptions = []struct {
	name string
	f    corruptFunc
}{
	{"gaussian_noise", gaussianNoise}, {"shot_noise", shotNoise}, {"impulse_noise", impulseNoise},
	{"defocus_blur", defocusBlur}, {"glass_blur", glassBlur}, {"motion_blur", motionBlur}, {"zoom_blur", zoomBlur},
	{"snow", snow}, {"frost", frost}, {"fog", fog},
	{"brightness", brightness}, {"contrast", contrast}, {"elastic_transform", elasticTransform},
	{"pixelate", pixelate}, {"jpeg_compression", jpegCompression},
	{"speckle_noise", speckleNoise}, {"gaussian_blur", gaussianBlur}, {"spatter", spatter}, {"saturate", saturate},
}

// commonCount is how many of corruptions are ImageNet-C's 15 (what name: all means).
const commonCount = 15

// Common returns the names of the 15 ImageNet-C corruptions, in the paper's order.
func Common() []string {
	out := make([]string, commonCount)
	for i := range out {
		out[i] = corruptions[i].name
	}
	return out
}

func lookup(name string) (corruptFunc, bool) {
	for _, c := range corruptions {
		if c.name == name {
			return c.f, true
		}
	}
	return nil, false
}

func choices() []string {
	out := []string{nameAll}
	for _, c := range corruptions {
		out = append(out, c.name)
	}
	return out
}

// corruption is the plugin.
type corruption struct{}

func (corruption) Info() sdk.Info {
	return sdk.Info{
		Name: "corruption", Version: "0.1.0",
		Description: "ImageNet-C common corruptions (imagecorruptions' algorithms and severity tables), seeded per sample",
		Params: []params.Spec{
			{Name: paramName, Type: params.String, Required: true, Choices: choices(), Groups: map[string][]string{nameAll: Common()},
				Description: "the corruption, as imagecorruptions names it; in a sweep, all = the 15 common ones"},
			{Name: paramSeverity, Type: params.Int, Required: true, Min: params.Bound(1), Max: params.Bound(5),
				Description: "severity 1 (mild) to 5 (strong)"},
			{Name: paramFrostDir, Type: params.Path,
				Description: "folder with frost1.png … frost5.jpg (imagecorruptions' frost photographs); needed by frost"},
		},
		Requires:     []string{arrowio.ColImage, arrowio.ColSampleID},
		PrimaryParam: paramSeverity,
	}
}

// sampleSeed derives the random stream of one sample from the host's seed, the sample id and the
// corruption and severity: the same study gives the same pixels however batches and shards fall.
func sampleSeed(seed uint64, id, name string, sev int) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(sev)))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return seed, h.Sum64()
}

// Corrupt applies corruption name at severity sev to one [3,H,W] image in [0,1], writing dst;
// seed and id select the random stream.
func Corrupt(dst, src []float32, h, w int, name string, sev int, seed uint64, id, frostDir string) error {
	f, ok := lookup(name)
	if !ok {
		return fmt.Errorf("unknown corruption %q", name)
	}
	if sev < 1 || sev > 5 {
		return errSeverity(sev)
	}
	if len(src) != 3*h*w || len(dst) != len(src) {
		return fmt.Errorf("corruption %s: want a 3×%d×%d image, got %d values", name, h, w, len(src))
	}
	r := rand.New(rand.NewPCG(sampleSeed(seed, id, name, sev)))
	out, err := f(fromCHW(src, h, w), sev, r, &env{frostDir: frostDir})
	if err != nil {
		return fmt.Errorf("corruption %s, severity %d: %w", name, sev, err)
	}
	out.toCHW(dst)
	return nil
}

func (corruption) Apply(ctx context.Context, p params.Values, batch arrow.RecordBatch, e *sdk.Env) (arrow.RecordBatch, error) {
	name, sev, frostDir := p.String(paramName), p.Int(paramSeverity), p.String(paramFrostDir)
	if name == nameAll {
		return nil, fmt.Errorf("parameter %s: %q stands for the 15 common corruptions and must be expanded by a sweep (sweep: [%s]); a single run needs one corruption",
			paramName, nameAll, paramName)
	}
	if _, ok := lookup(name); !ok {
		return nil, fmt.Errorf("parameter %s: unknown corruption %q (one of %v)", paramName, name, choices())
	}
	if name == "frost" {
		if frostDir == "" {
			return nil, fmt.Errorf("parameter %s: frost needs the folder of the frost photographs", paramFrostDir)
		}
		if _, err := loadFrost(frostDir); err != nil {
			return nil, fmt.Errorf("parameter %s: %w", paramFrostDir, err)
		}
	}
	ids, err := arrowio.StringColumn(batch, arrowio.ColSampleID)
	if err != nil {
		return nil, err
	}
	shape, err := imagemap.ImageShape(batch)
	if err != nil {
		return nil, err
	}
	if shape.C != 3 {
		return nil, fmt.Errorf("corruption %s: images have %d channels, want 3 (RGB)", name, shape.C)
	}
	out, err := imagemap.Map(ctx, batch, e.Mem, func(s imagemap.Shape) (imagemap.Func, error) {
		return func(row int, dst, src []float32) error {
			return Corrupt(dst, src, s.H, s.W, name, sev, e.Seed, ids[row], frostDir)
		}, nil
	})
	if err != nil {
		return nil, err
	}
	defer out.Release()
	sb := array.NewStringBuilder(e.Mem)
	defer sb.Release()
	for range ids {
		sb.Append(name)
	}
	col := sb.NewArray()
	defer col.Release()
	return imagemap.AddColumns(out, imagemap.Column{Field: arrow.Field{Name: ColCorruption, Type: arrow.BinaryTypes.String}, Array: col})
}
