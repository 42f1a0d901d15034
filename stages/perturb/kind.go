package perturb

import (
	"context"
	"os"

	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// The `perturb` stage kind: transforms images with a perturbation plugin, once per sweep point
// (and per model, for attacks that query a model).
func init() { pipeline.Register(kind{}) }

type kind struct{}

func (kind) Spec() pipeline.KindSpec {
	return pipeline.KindSpec{
		Name:    "perturb",
		Summary: "transforms the images it reads with a perturbation plugin (a corruption, filter or attack)",
		Flow:    pipeline.FlowTransform,
		Keys: []pipeline.Key{pipeline.KeyInput,
			{Name: "attack", Type: "string", Doc: "the perturbation plugin", Required: true, Role: pipeline.RoleComponent},
			pipeline.KeyParams, pipeline.KeySweep},
		Reads:    []pipeline.Data{pipeline.Images},
		Produces: pipeline.Images,
	}
}

// Check checks the plugin and its parameters; for a white-box attack, that every model it attacks
// has a gradient graph (an int8 QLinearConv model has none), before anything runs.
func (kind) Check(c *pipeline.Check, st *pipeline.Stage) {
	e := c.Plugin(st, sdk.KindPerturbation, "attack")
	if e == nil || !e.Info.NeedsGradient {
		return
	}
	for _, m := range c.Study.DownstreamModels(st) {
		path, opts := m.Path, onnx.GradientOptions{Output: m.OutputTensor, Probabilities: m.Output == "probabilities"}
		if z := m.ZeroShot; z != nil && z.File == "" {
			// composed when the run starts: its head is differentiable, the image encoder must be
			path, opts = z.Image, onnx.GradientOptions{}
		}
		if fi, err := os.Stat(path); err != nil || fi.IsDir() {
			continue // reported with the model's path
		}
		if err := onnx.CheckGradientWith(path, opts); err != nil {
			c.Add(st.Pos("attack"), "stage %q: attack %s needs the gradient of model %q: %v", st.ID, st.Plugin, m.Name, err)
		}
	}
}

// Expand makes one instance per input instance and sweep point; attacks that query a model get
// one per downstream model of the input's geometry.
func (kind) Expand(x *pipeline.Expansion, st *pipeline.Stage) ([]*pipeline.Instance, error) {
	e, err := x.Plugin(st, sdk.KindPerturbation, "attack")
	if err != nil {
		return nil, err
	}
	points, err := x.Sweep(st, e.Info.Params)
	if err != nil {
		return nil, err
	}
	models := x.Downstream(st)
	var out []*pipeline.Instance
	for _, src := range x.Of(st.Input) {
		for _, pt := range points {
			mk := func(m *pipeline.Model) *pipeline.Instance {
				in := pipeline.Follow(st, src, m)
				in.Sweep = append(append([]pipeline.SweepValue(nil), src.Sweep...), pt.Sweep...)
				in.Params, in.Plugin = pt.Values, e
				return in
			}
			if !e.Info.NeedsModel {
				out = append(out, mk(src.Model))
				continue
			}
			for _, m := range models {
				if pipeline.Matches(m, src) {
					out = append(out, mk(m))
				}
			}
		}
	}
	return out, nil
}

// Start binds the plugin's process (the model's, for attacks).
func (kind) Start(ctx context.Context, env *pipeline.Env, in *pipeline.Instance) (any, error) {
	pt, err := env.Procs.Perturbation(ctx, in.Plugin, in.Model, env.ModelContext(in))
	if err != nil {
		return nil, err
	}
	return &Stage{Name: in.Plugin.Info.Name, Params: in.Params, Primary: in.Plugin.Info.PrimaryParam, Plugin: pt, Mem: env.Mem}, nil
}
