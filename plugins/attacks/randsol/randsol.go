package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/imagemap"
	"github.com/vistudy/vistudy/plugins/attacks/solarization"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Parameter names, shared by the spec and Apply.
const (
	paramIterations = "iterations"
	paramTopK       = "topk"
)

// Columns randsol adds to the batch.
const (
	colThreshold      = "threshold"       // float64, the final t; null for unlabelled samples
	colIterationsUsed = "iterations_used" // int32, how many thresholds the sample was given
	colBroken         = "broken"          // bool, the label is not within the top k at the end; null when unlabelled
)

// randsol is the randomized solarization attack of Gavrikov et al. (ANALYSES.md F, RandSol).
type randsol struct{}

func (randsol) Info() sdk.Info {
	return sdk.Info{
		Name: "randsol", Version: "0.1.0",
		Description: "randomized solarization (RandSol): per sample t ~ U(0,1), redrawn each round while the " +
			"model still ranks the label within the top k; no gradients",
		Params: []params.Spec{
			{Name: paramIterations, Type: params.Int, Default: 10, Min: params.Bound(1), Max: params.Bound(10000),
				Description: "rounds of drawing and evaluating; a sample gets a new threshold only while still correct"},
			{Name: paramTopK, Type: params.Int, Default: 1, Min: params.Bound(1),
				Description: "a sample counts as correct while fewer than k classes score strictly above its label"},
		},
		NeedsModel:   true,
		Requires:     []string{arrowio.ColImage, arrowio.ColLabel},
		PrimaryParam: paramIterations,
	}
}

// sample is one row's attack state.
type sample struct {
	rng       *rand.Rand
	threshold float64
	used      int32
	broken    bool
}

func (randsol) Apply(ctx context.Context, p params.Values, batch arrow.RecordBatch, env *sdk.Env) (arrow.RecordBatch, error) {
	seeds := sdk.RowSeeds(env.Seed, batch) // per sample: the same draws in any batch
	iterations, k := p.Int(paramIterations), p.Int(paramTopK)
	images, err := arrowio.TensorColumn(batch, arrowio.ColImage)
	if err != nil {
		return nil, err
	}
	shape, err := imagemap.ImageShape(batch)
	if err != nil {
		return nil, err
	}
	labels, err := arrowio.Int32Column(batch, arrowio.ColLabel)
	if err != nil {
		return nil, err
	}
	size := shape.C * shape.H * shape.W
	out := append([]float32(nil), images.Values()...)
	samples := make([]sample, len(labels))
	var active []int // rows still correct, the only ones redrawn and re-evaluated
	for i, y := range labels {
		if y >= 0 {
			samples[i].rng = rand.New(rand.NewPCG(seeds[i], 0))
			active = append(active, i)
		}
	}
	for round := 0; round < iterations && len(active) > 0; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, i := range active {
			s := &samples[i]
			s.threshold = s.rng.Float64()
			s.used++
			solarization.Apply(out[i*size:(i+1)*size], images.Row(i), float32(s.threshold))
		}
		logits, err := predict(ctx, env, shape, out, size, active)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", round+1, err)
		}
		still := active[:0]
		for j, i := range active {
			row := logits.Row(j)
			if int(labels[i]) >= len(row) {
				return nil, fmt.Errorf("sample %d has label %d but the model returns %d logits: the dataset's label space does not match the model's", i, labels[i], len(row))
			}
			samples[i].broken = sdk.Rank(row, labels[i]) >= k
			if !samples[i].broken {
				still = append(still, i)
			}
		}
		active = still
	}
	return withColumns(batch, out, labels, samples, env)
}

// predict asks the oracle for the logits of the rows in active, taken from the perturbed images.
func predict(ctx context.Context, env *sdk.Env, shape imagemap.Shape, out []float32, size int, active []int) (*sdk.Logits, error) {
	data := make([]float32, 0, len(active)*size)
	for _, i := range active {
		data = append(data, out[i*size:(i+1)*size]...)
	}
	arr, err := arrowio.NewTensorArray(env.Mem, []int{shape.C, shape.H, shape.W}, data)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	logits, err := env.Oracle.Predict(ctx, arr)
	if err != nil {
		return nil, err
	}
	if logits.K < 1 || len(logits.Values) != logits.K*len(active) {
		return nil, fmt.Errorf("the oracle returned %d logits in rows of %d for %d images", len(logits.Values), logits.K, len(active))
	}
	return logits, nil
}

// withColumns returns batch with the perturbed images and randsol's own columns.
func withColumns(batch arrow.RecordBatch, images []float32, labels []int32, samples []sample, env *sdk.Env) (arrow.RecordBatch, error) {
	tb := array.NewFloat64Builder(env.Mem)
	defer tb.Release()
	ub := array.NewInt32Builder(env.Mem)
	defer ub.Release()
	bb := array.NewBooleanBuilder(env.Mem)
	defer bb.Release()
	for i, s := range samples {
		ub.Append(s.used)
		if labels[i] < 0 {
			tb.AppendNull()
			bb.AppendNull()
			continue
		}
		tb.Append(s.threshold)
		bb.Append(s.broken)
	}
	thr, used, broken := tb.NewArray(), ub.NewArray(), bb.NewArray()
	defer thr.Release()
	defer used.Release()
	defer broken.Release()
	rec, err := arrowio.SetImages(batch, images, env.Mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	return imagemap.AddColumns(rec,
		imagemap.Column{Field: arrow.Field{Name: colThreshold, Type: arrow.PrimitiveTypes.Float64, Nullable: true}, Array: thr},
		imagemap.Column{Field: arrow.Field{Name: colIterationsUsed, Type: arrow.PrimitiveTypes.Int32}, Array: used},
		imagemap.Column{Field: arrow.Field{Name: colBroken, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}, Array: broken})
}
