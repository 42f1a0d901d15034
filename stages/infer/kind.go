package infer

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"

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
	return x.PerModel(st, x.Params(st, nil)), nil
}

// Start binds the model's runtime process.
func (kind) Start(ctx context.Context, env *pipeline.Env, in *pipeline.Instance) (any, error) {
	rt, err := env.Procs.Runtime(ctx, in.Model)
	if err != nil {
		return nil, err
	}
	lm, err := env.Plan.LabelMap(in)
	if err != nil {
		return nil, err
	}
	t := transform{s: &Stage{Model: in.Model.Name, Dataset: in.Root.Dataset.Name, ClassNames: env.ModelContext(in).ClassNames, Runtime: rt, Mem: env.Mem},
		streams: in.Model.Streams()}
	if lm != nil && lm.OK() && !lm.Identity() {
		t.toModel = lm.ToModel
		env.Log.Info("infer: dataset labels mapped onto the model's outputs", "model", in.Model.Name,
			"dataset", lm.Dataset, "model_labels", lm.Model, "by", lm.By, "classes", len(lm.ToModel))
	}
	return t, nil
}

// transform adapts Stage to the pipeline's Transformer (inference draws no randomness); with a
// label map, the predictions' label column holds the model's class of each sample's label.
type transform struct {
	s       *Stage
	toModel []int32
	streams int // batches sent to the runtime at once
}

// Concurrency is the model's runtime streams (pipeline.Concurrent).
func (t transform) Concurrency() int { return t.streams }

func (t transform) Apply(ctx context.Context, rec arrow.RecordBatch, _ uint64) (arrow.RecordBatch, error) {
	out, err := t.s.Apply(ctx, rec)
	if err != nil || t.toModel == nil {
		return out, err
	}
	defer out.Release()
	return MapLabels(t.s.Mem, out, t.toModel)
}

// MapLabels returns rec with its label column mapped through toModel (a label outside it, such
// as -1 for none, stays as it is).
func MapLabels(mem memory.Allocator, rec arrow.RecordBatch, toModel []int32) (arrow.RecordBatch, error) {
	ls, err := arrowio.Int32Column(rec, arrowio.ColLabel)
	if err != nil {
		return nil, err
	}
	b := array.NewInt32Builder(mem)
	defer b.Release()
	for _, l := range ls {
		if l >= 0 && int(l) < len(toModel) {
			l = toModel[l]
		}
		b.Append(l)
	}
	arr := b.NewArray()
	defer arr.Release()
	f, _ := arrowio.Field(rec.Schema(), arrowio.ColLabel)
	return arrowio.SetColumn(rec, f, arr)
}
