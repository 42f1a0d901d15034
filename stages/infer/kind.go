package infer

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/pipeline"
)

// The `infer` stage kind: runs each model over the images it reads, giving its predictions.
func init() { pipeline.Register(kind{}) }

type kind struct{}

func (kind) Spec() pipeline.KindSpec {
	return pipeline.KindSpec{
		Name:     "infer",
		Summary:  "runs each model over the images it reads: logits, prediction and confidence per sample",
		Flow:     pipeline.FlowTransform,
		Keys:     []pipeline.Key{pipeline.KeyInput, pipeline.KeyModels},
		Reads:    []pipeline.Data{pipeline.Images},
		Produces: pipeline.Predictions,
		PerModel: true,
		Save:     true,
	}
}

func (kind) Check(*pipeline.Check, *pipeline.Stage) {}

// Expand makes one instance per model and input instance of the model's geometry.
func (kind) Expand(x *pipeline.Expansion, st *pipeline.Stage) ([]*pipeline.Instance, error) {
	var out []*pipeline.Instance
	for _, m := range x.Models(st) {
		for _, src := range x.Of(st.Input) {
			if pipeline.Matches(m, src) {
				in := pipeline.Follow(st, src, m)
				in.Params = x.Params(st, nil)
				out = append(out, in)
			}
		}
	}
	return out, nil
}

// Start binds the model's runtime process.
func (kind) Start(ctx context.Context, env *pipeline.Env, in *pipeline.Instance) (any, error) {
	rt, err := env.Procs.Runtime(ctx, in.Model)
	if err != nil {
		return nil, err
	}
	return transform{&Stage{Model: in.Model.Name, Runtime: rt, Mem: env.Mem}}, nil
}

// transform adapts Stage to the pipeline's Transformer (inference draws no randomness).
type transform struct{ s *Stage }

func (t transform) Apply(ctx context.Context, rec arrow.RecordBatch, _ uint64) (arrow.RecordBatch, error) {
	return t.s.Apply(ctx, rec)
}
