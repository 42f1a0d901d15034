package main

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/imagemap"
	"github.com/vistudy/vistudy/plugins/attacks/solarization"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// paramThreshold is the solarization threshold, the parameter a study sweeps.
const paramThreshold = "threshold"

// solarize is the universal black-box solarization of Gavrikov et al. (ANALYSES.md F).
type solarize struct{}

func (solarize) Info() sdk.Info {
	return sdk.Info{
		Name: "solarize", Version: "0.1.0",
		Description: "solarization: every pixel value x ≥ threshold becomes 1 − x (per channel), the rest stay",
		Params: []params.Spec{{Name: paramThreshold, Type: params.Float, Required: true,
			Description: "values at or above it are inverted; 0 inverts the whole image, 1 only pure white",
			Min:         params.Bound(0), Max: params.Bound(1)}},
		Requires:     []string{arrowio.ColImage},
		PrimaryParam: paramThreshold,
	}
}

func (solarize) Apply(ctx context.Context, p params.Values, batch arrow.RecordBatch, env *sdk.Env) (arrow.RecordBatch, error) {
	t := float32(p.Float(paramThreshold))
	return imagemap.Map(ctx, batch, env.Mem, func(imagemap.Shape) (imagemap.Func, error) {
		return func(_ int, dst, src []float32) error {
			solarization.Apply(dst, src, t)
			return nil
		}, nil
	})
}
