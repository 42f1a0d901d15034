// Package infer is the infer stage: it sends a batch's images to a model runtime and turns the
// logits into the predictions table (model, dataset, logits, pred, pred_name, confidence beside the sample columns).
package infer

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
)

// Runtime is what the stage needs of a model runtime.
type Runtime interface {
	// Infer returns a batch with the logits column for a batch with the image column.
	Infer(ctx context.Context, images arrow.RecordBatch) (arrow.RecordBatch, error)
}

// Stage runs one model over image batches.
type Stage struct {
	Model      string
	Dataset    string   // the dataset column's value ("" leaves the column out)
	ClassNames []string // the model's class names, for pred_name (none: pred_name is null)
	Runtime    Runtime
	Mem        memory.Allocator
}

// Apply returns the predictions batch for rec: rec's columns without the image, then model,
// logits, pred and confidence. The caller releases both.
func (s *Stage) Apply(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	img, err := arrowio.TensorColumn(rec, arrowio.ColImage)
	if err != nil {
		return nil, fmt.Errorf("infer %s: %w", s.Model, err)
	}
	f, _ := arrowio.Field(rec.Schema(), arrowio.ColImage)
	images := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{f}, nil), []arrow.Array{img}, rec.NumRows())
	defer images.Release()
	out, err := s.Runtime.Infer(ctx, images)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	logits, err := arrowio.TensorColumn(out, arrowio.ColLogits)
	if err != nil {
		return nil, fmt.Errorf("infer %s: runtime answer: %w", s.Model, err)
	}
	return Predictions(s.Mem, rec, Labels{Model: s.Model, Dataset: s.Dataset, ClassNames: s.ClassNames}, logits)
}

// Labels are the names a predictions batch carries: the model, the dataset and the model's classes.
type Labels struct {
	Model      string
	Dataset    string   // "" leaves the dataset column out
	ClassNames []string // pred_name is null for a pred outside them
}

// dictColumn is a dictionary-encoded string column of n rows; value(i) returns the row's string or
// false for null.
func dictColumn(mem memory.Allocator, n int, value func(i int) (string, bool)) (arrow.Array, error) {
	b := array.NewDictionaryBuilder(mem, arrowio.ModelType).(*array.BinaryDictionaryBuilder)
	defer b.Release()
	for i := 0; i < n; i++ {
		v, ok := value(i)
		if !ok {
			b.AppendNull()
			continue
		}
		if err := b.AppendString(v); err != nil {
			return nil, err
		}
	}
	return b.NewArray(), nil
}

// Predictions builds the predictions batch from sample columns (image dropped) and logits: the
// sample columns, then model, dataset, logits, pred, pred_name and confidence.
func Predictions(mem memory.Allocator, rec arrow.RecordBatch, names Labels, logits *arrowio.TensorArray) (arrow.RecordBatch, error) {
	n := int(rec.NumRows())
	preds := make([]int32, n)
	confs := make([]float32, n)
	for i := 0; i < n; i++ {
		preds[i], confs[i] = ArgmaxSoftmax(logits.Row(i))
	}
	base := arrowio.DropColumns(rec, arrowio.ColImage, arrowio.ColModel, arrowio.ColDataset, arrowio.ColLogits, arrowio.ColPred,
		arrowio.ColPredName, arrowio.ColConfidence)
	defer base.Release()

	models, err := dictColumn(mem, n, func(int) (string, bool) { return names.Model, true })
	if err != nil {
		return nil, err
	}
	defer models.Release()
	predNames, err := dictColumn(mem, n, func(i int) (string, bool) {
		if p := int(preds[i]); p >= 0 && p < len(names.ClassNames) {
			return names.ClassNames[p], true
		}
		return "", false
	})
	if err != nil {
		return nil, err
	}
	defer predNames.Release()
	pb := array.NewInt32Builder(mem)
	defer pb.Release()
	pb.AppendValues(preds, nil)
	predArr := pb.NewArray()
	defer predArr.Release()
	cb := array.NewFloat32Builder(mem)
	defer cb.Release()
	cb.AppendValues(confs, nil)
	confArr := cb.NewArray()
	defer confArr.Release()

	fields := append([]arrow.Field(nil), base.Schema().Fields()...)
	cols := append([]arrow.Array(nil), base.Columns()...)
	fields = append(fields, arrow.Field{Name: arrowio.ColModel, Type: arrowio.ModelType})
	cols = append(cols, models)
	if names.Dataset != "" {
		ds, err := dictColumn(mem, n, func(int) (string, bool) { return names.Dataset, true })
		if err != nil {
			return nil, err
		}
		defer ds.Release()
		fields = append(fields, arrow.Field{Name: arrowio.ColDataset, Type: arrowio.ModelType})
		cols = append(cols, ds)
	}
	fields = append(fields,
		arrow.Field{Name: arrowio.ColLogits, Type: logits.DataType()},
		arrow.Field{Name: arrowio.ColPred, Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: arrowio.ColPredName, Type: arrowio.ModelType, Nullable: true},
		arrow.Field{Name: arrowio.ColConfidence, Type: arrow.PrimitiveTypes.Float32})
	cols = append(cols, logits, predArr, predNames, confArr)
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(n)), nil
}

// ArgmaxSoftmax returns the arg-max of logits and its softmax probability (the first index wins ties).
func ArgmaxSoftmax(logits []float32) (int32, float32) {
	best := 0
	for j, v := range logits {
		if v > logits[best] {
			best = j
		}
	}
	m := float64(logits[best])
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - m)
	}
	return int32(best), float32(1 / sum)
}

// Softmax writes the softmax of logits into out (len(out) == len(logits)), computed in float64.
func Softmax(logits []float32, out []float64) {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	var sum float64
	for j, v := range logits {
		out[j] = math.Exp(float64(v) - m)
		sum += out[j]
	}
	for j := range out {
		out[j] /= sum
	}
}
