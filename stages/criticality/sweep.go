package criticality

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
	"github.com/vistudy/vistudy/stages/infer"
)

// Runtime is what the stage needs of a model runtime (plugins/host.Runtime satisfies it).
type Runtime interface {
	// Infer returns a batch with the logits tensor column [K] for a batch with the image column.
	Infer(ctx context.Context, images arrow.RecordBatch) (arrow.RecordBatch, error)
	// SetOverrides replaces the weight overrides in force; nil restores the trained weights.
	SetOverrides(ctx context.Context, overrides []sdk.Override) error
}

// Ref is the clean pass of the trained model over the input.
type Ref struct {
	N, K     int       // samples, classes
	Probs    []float32 // N×K softmax probabilities, row-major
	Labels   []int32   // per sample; -1: unknown
	Labelled int       // samples with a label
	Top1     int       // labelled samples whose label is the top-1 class
	Top5     int       // labelled samples whose label is within the top 5 (top K when K < 5)
	Seconds  float64   // wall time of the pass
}

// Reference runs the trained model once over imgs.
func Reference(ctx context.Context, rt Runtime, imgs Images) (*Ref, error) {
	start := time.Now()
	ref := &Ref{}
	probs := []float64{}
	err := pass(ctx, rt, imgs, func(rec arrow.RecordBatch, logits *arrowio.TensorArray) error {
		labels, err := labelsOf(rec)
		if err != nil {
			return err
		}
		for i, y := range labels {
			row := logits.Row(i)
			if ref.K == 0 {
				ref.K = len(row)
				probs = make([]float64, ref.K)
			}
			if err := checkLabel(y, ref.N, ref.K); err != nil {
				return err
			}
			infer.Softmax(row, probs)
			for _, p := range probs {
				ref.Probs = append(ref.Probs, float32(p))
			}
			ref.Labels = append(ref.Labels, y)
			if y >= 0 {
				ref.Labelled++
				r := sdk.Rank(row, y)
				ref.Top1 += btoi(r < 1)
				ref.Top5 += btoi(r < topK(ref.K))
			}
			ref.N++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("criticality: clean pass: %w", err)
	}
	if ref.N == 0 {
		return nil, errors.New("criticality: clean pass: the input holds no samples")
	}
	ref.Seconds = time.Since(start).Seconds()
	return ref, nil
}

// LayerResult is the outcome of resetting one layer.
type LayerResult struct {
	Layer        onnx.Layer
	Trials       int     // trials run (1 for deterministic resets)
	Samples      int     // samples per trial
	Labelled     int     // labelled samples per trial
	Compared     int     // samples × trials in the means (those with finite reset outputs)
	NonFinite    int     // samples × trials whose reset output was not finite
	Cosine       float64 // mean cosine similarity of the softmax outputs
	L1, L2       float64 // mean L1 and L2 distance of the softmax outputs
	Top1Reset    float64 // top-1 accuracy of the reset model, mean over trials; NaN without labels
	Top5Reset    float64 // top-5 accuracy of the reset model, mean over trials; NaN without labels
	Top1Original float64 // top-1 accuracy of the trained model; NaN without labels
	Top5Original float64 // top-5 accuracy of the trained model; NaN without labels
	Recovered    float64 // Top1Reset / Top1Original; NaN when the trained top-1 is 0 or unknown
	Criticality  float64 // (1 − Cosine)·100
	Seconds      float64 // wall time of the layer's trials, restore included
}

// Sweep resets layer trials times (see the package doc for what is drawn), streams imgs through
// each reset model and compares with ref; the trained weights are restored before it returns.
// Trial t draws from a PCG seeded with (seed, t): pass a per-layer seed (LayerSeed).
func Sweep(ctx context.Context, rt Runtime, imgs Images, ref *Ref, m *onnx.Model, layer onnx.Layer, p params.Values, seed uint64) (*LayerResult, error) {
	v, err := check(p)
	if err != nil {
		return nil, err
	}
	ts, err := tensorsOf(m, layer)
	if err != nil {
		return nil, err
	}
	init, trials := v.String(ParamInit), v.Int(ParamTrials)
	if deterministic(layer, init) {
		trials = 1
	}
	return sweep(ctx, rt, imgs, ref, layer, trials, func(t int) []sdk.Override {
		return draw(layer, ts, init, rand.New(rand.NewPCG(seed, uint64(t))))
	})
}

// sweep runs trials with the overrides reset(t) and restores the trained weights.
func sweep(ctx context.Context, rt Runtime, imgs Images, ref *Ref, layer onnx.Layer, trials int, reset func(t int) []sdk.Override) (res *LayerResult, err error) {
	start := time.Now()
	defer func() {
		if rerr := rt.SetOverrides(ctx, nil); rerr != nil {
			res, err = nil, errors.Join(err, fmt.Errorf("criticality: layer %q: restore the trained weights: %w", layer.Name, rerr))
		}
	}()
	res = &LayerResult{Layer: layer, Trials: trials, Samples: ref.N, Labelled: ref.Labelled}
	var cos, l1, l2 float64
	var top1, top5 int
	b := make([]float64, ref.K)
	for t := 0; t < trials; t++ {
		if err := rt.SetOverrides(ctx, reset(t)); err != nil {
			return nil, fmt.Errorf("criticality: layer %q trial %d: set overrides: %w", layer.Name, t, err)
		}
		n := 0
		err := pass(ctx, rt, imgs, func(rec arrow.RecordBatch, logits *arrowio.TensorArray) error {
			for i := 0; i < int(rec.NumRows()); i++ {
				if n >= ref.N {
					return fmt.Errorf("the input holds more than the %d samples of the clean pass", ref.N)
				}
				row := logits.Row(i)
				if len(row) != ref.K {
					return fmt.Errorf("sample %d: %d logits, the clean pass had %d", n, len(row), ref.K)
				}
				infer.Softmax(row, b)
				for j, v := range b {
					b[j] = float64(float32(v)) // the precision the clean pass is kept in
				}
				c, d1, d2 := compare(ref.Probs[n*ref.K:(n+1)*ref.K], b)
				y := ref.Labels[n]
				n++
				if math.IsNaN(c) || math.IsNaN(d1) {
					res.NonFinite++ // a broken output counts as a miss in the accuracies
					continue
				}
				cos, l1, l2 = cos+c, l1+d1, l2+d2
				res.Compared++
				if y >= 0 {
					r := sdk.Rank(row, y)
					top1 += btoi(r < 1)
					top5 += btoi(r < topK(ref.K))
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("criticality: layer %q trial %d: %w", layer.Name, t, err)
		}
		if n != ref.N {
			return nil, fmt.Errorf("criticality: layer %q trial %d: the input gave %d samples, the clean pass %d", layer.Name, t, n, ref.N)
		}
	}
	res.Cosine, res.L1, res.L2 = cos/float64(res.Compared), l1/float64(res.Compared), l2/float64(res.Compared)
	res.Criticality = (1 - res.Cosine) * 100
	res.Top1Reset, res.Top5Reset = ratio(top1, ref.Labelled*trials), ratio(top5, ref.Labelled*trials)
	res.Top1Original, res.Top5Original = ratio(ref.Top1, ref.Labelled), ratio(ref.Top5, ref.Labelled)
	res.Recovered = math.NaN()
	if ref.Top1 > 0 {
		res.Recovered = res.Top1Reset / res.Top1Original
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// pass streams imgs through rt and calls fn with each input batch and its logits.
func pass(ctx context.Context, rt Runtime, imgs Images, fn func(rec arrow.RecordBatch, logits *arrowio.TensorArray) error) error {
	return imgs.Each(ctx, func(rec arrow.RecordBatch) error {
		img, err := arrowio.TensorColumn(rec, arrowio.ColImage)
		if err != nil {
			return err
		}
		f, _ := arrowio.Field(rec.Schema(), arrowio.ColImage)
		in := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{f}, nil), []arrow.Array{img}, rec.NumRows())
		defer in.Release()
		out, err := rt.Infer(ctx, in)
		if err != nil {
			return err
		}
		defer out.Release()
		logits, err := arrowio.TensorColumn(out, arrowio.ColLogits)
		if err != nil {
			return fmt.Errorf("runtime answer: %w", err)
		}
		if logits.Len() != int(rec.NumRows()) {
			return fmt.Errorf("runtime answered %d rows for %d", logits.Len(), rec.NumRows())
		}
		return fn(rec, logits)
	})
}

// labelsOf returns the batch's labels, all -1 when it has no label column.
func labelsOf(rec arrow.RecordBatch) ([]int32, error) {
	if len(rec.Schema().FieldIndices(arrowio.ColLabel)) == 0 {
		out := make([]int32, rec.NumRows())
		for i := range out {
			out[i] = -1
		}
		return out, nil
	}
	return arrowio.Int32Column(rec, arrowio.ColLabel)
}

// checkLabel refuses a label outside the model's classes.
func checkLabel(y int32, sample, k int) error {
	if int(y) >= k {
		return fmt.Errorf("sample %d has label %d but the model has %d classes: the dataset's label space does not match the model's", sample, y, k)
	}
	return nil
}

// compare returns the cosine similarity, L1 and L2 distance of probability vectors a and b.
func compare(a []float32, b []float64) (cos, l1, l2 float64) {
	var dot, na, nb float64
	for j, av := range a {
		x := float64(av)
		d := x - b[j]
		dot, na, nb = dot+x*b[j], na+x*x, nb+b[j]*b[j]
		l1 += math.Abs(d)
		l2 += d * d
	}
	return dot / math.Sqrt(na*nb), l1, math.Sqrt(l2)
}

// rank is the number of classes ranked before class y: scoring higher, or the same with a lower
// index (the arg-max convention of the pred column), so that a constant output is not a hit for

// topK is the k of "top-5" for a model with k classes.
func topK(k int) int { return min(5, k) }

// btoi is 1 for true.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ratio is n/d, NaN when d is 0.
func ratio(n, d int) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(n) / float64(d)
}
