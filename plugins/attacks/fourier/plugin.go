package fourier

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/imagemap"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// ParamCutoff is the cut-off parameter of both plugins, the one a study sweeps.
const ParamCutoff = "c"

// Perturbation is the lowpass or highpass plugin: Filter over every image of a batch.
type Perturbation struct{ Pass Pass }

// Info declares the plugin named after its pass.
func (p Perturbation) Info() sdk.Info {
	desc := "low-pass filter (spectral bias): per channel FFT, keep the centred box of half-sizes " +
		"int(c·(H/2)) × int(c·(W/2)), inverse FFT, real part, clip to [0,1]"
	cdesc := "fraction of the spectrum's half-size kept around the zero frequency: 0 gives black, 1 the image"
	if p.Pass == HighPass {
		desc = "high-pass filter (spectral bias): per channel FFT, zero the centred box of half-sizes " +
			"int((1−c)·(H/2)) × int((1−c)·(W/2)), inverse FFT, real part, clip to [0,1]"
		cdesc = "about the outer fraction of the spectrum kept: 0 gives black, 1 the image"
	}
	return sdk.Info{
		Name: p.Pass.String(), Version: "0.1.0", Description: desc,
		Params: []params.Spec{{Name: ParamCutoff, Type: params.Float, Required: true, Description: cdesc,
			Min: params.Bound(0), Max: params.Bound(1)}},
		Requires:     []string{arrowio.ColImage},
		PrimaryParam: ParamCutoff,
	}
}

// Apply filters every image; each worker goroutine owns one Filter (FFT plan and buffers).
func (p Perturbation) Apply(ctx context.Context, v params.Values, batch arrow.RecordBatch, env *sdk.Env) (arrow.RecordBatch, error) {
	c := v.Float(ParamCutoff)
	return imagemap.Map(ctx, batch, env.Mem, func(s imagemap.Shape) (imagemap.Func, error) {
		f, err := NewFilter(s.H, s.W, c, p.Pass)
		if err != nil {
			return nil, err
		}
		return func(_ int, dst, src []float32) error { return f.Apply(dst, src) }, nil
	})
}
