// Package attacktest holds what the perturbation plugins' tests share: hand-built image batches,
// in-process application with the plugin server's parameter checks, the plugin binary started
// under the real host, and oracles from hand-written "models".
package attacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/params"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Batch builds n = len(labels) rows: sample_id "img-<i>", label labels[i] and an image of the
// given [C,H,W] shape whose value j is pixel(i, j). The caller releases it.
func Batch(t testing.TB, mem memory.Allocator, shape []int, labels []int32, pixel func(row, j int) float32) arrow.RecordBatch {
	t.Helper()
	size := 1
	for _, d := range shape {
		size *= d
	}
	data := make([]float32, len(labels)*size)
	for i := range labels {
		for j := 0; j < size; j++ {
			data[i*size+j] = pixel(i, j)
		}
	}
	images, err := arrowio.NewTensorArray(mem, shape, data)
	if err != nil {
		t.Fatal(err)
	}
	defer images.Release()
	ib := array.NewStringBuilder(mem)
	defer ib.Release()
	lb := array.NewInt32Builder(mem)
	defer lb.Release()
	for i, y := range labels {
		ib.Append(fmt.Sprintf("img-%d", i))
		lb.Append(y)
	}
	ids, lab := ib.NewArray(), lb.NewArray()
	defer ids.Release()
	defer lab.Release()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: arrowio.ColImage, Type: images.DataType()},
	}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{ids, lab, images}, int64(len(labels)))
}

// Random builds n images of shape [C,H,W] with uniform values from a seeded stream and labels
// i mod classes: the large batches that must cross the 4 MiB gRPC default both ways.
func Random(t testing.TB, mem memory.Allocator, n int, shape []int, classes int, seed uint64) arrow.RecordBatch {
	t.Helper()
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % classes)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	return Batch(t, mem, shape, labels, func(int, int) float32 { return rng.Float32() })
}

// Apply runs p in process the way the plugin server does: raw parameters checked against p's
// specs (defaults applied), then Apply. The caller releases the result.
func Apply(t testing.TB, p sdk.Perturbation, raw map[string]any, batch arrow.RecordBatch, env *sdk.Env) arrow.RecordBatch {
	t.Helper()
	out, err := TryApply(p, raw, batch, env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TryApply is Apply returning the error instead of failing the test.
func TryApply(p sdk.Perturbation, raw map[string]any, batch arrow.RecordBatch, env *sdk.Env) (arrow.RecordBatch, error) {
	v, err := params.Parse(p.Info().Params, ParamsJSON(raw))
	if err != nil {
		return nil, err
	}
	return p.Apply(context.Background(), v, batch, env)
}

// ParamsJSON encodes raw parameters as the JSON the host sends.
func ParamsJSON(raw map[string]any) string {
	b, err := json.Marshal(raw)
	if err != nil {
		panic(fmt.Sprintf("attacktest: parameters %v: %v", raw, err))
	}
	return string(b)
}

// Start builds the plugin package pkg (a path from the repository root such as
// "plugins/attacks/solarize"), adds its binary to a catalog and starts it under the real host.
// The process is stopped when the test ends.
func Start(t testing.TB, pkg string, model sdk.Model, predict host.PredictFunc, mem memory.Allocator) (*host.Perturbation, *host.Entry) {
	t.Helper()
	name := filepath.Base(pkg)
	dir := testenv.Plugins(t, pkg)
	ctx := context.Background()
	cat := host.NewCatalog()
	if err := cat.Add(ctx, filepath.Join(dir, host.BinaryPrefix+string(sdk.KindPerturbation)+"-"+name), ""); err != nil {
		t.Fatal(err)
	}
	e, ok := cat.Lookup(sdk.KindPerturbation, name)
	if !ok {
		t.Fatalf("attacktest: the catalog has no perturbation %q after adding its binary", name)
	}
	pt, err := host.StartPerturbation(ctx, e, model, predict, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pt.Close)
	return pt, e
}

// Images returns a copy of the image values of batch.
func Images(t testing.TB, batch arrow.RecordBatch) []float32 {
	t.Helper()
	images, err := arrowio.TensorColumn(batch, arrowio.ColImage)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), images.Values()...)
}

// Model computes the logits of one [C,H,W] image: a hand-written "model" for oracles.
type Model func(image []float32) []float32

// Predict serves m as the host's model oracle: image column in, logits column out.
func (m Model) Predict(mem memory.Allocator) host.PredictFunc {
	return func(_ context.Context, batch arrow.RecordBatch) (arrow.RecordBatch, error) {
		images, err := arrowio.TensorColumn(batch, arrowio.ColImage)
		if err != nil {
			return nil, err
		}
		var values []float32
		k := 0
		for i := 0; i < images.Len(); i++ {
			l := m(images.Row(i))
			k = len(l)
			values = append(values, l...)
		}
		if images.Len() == 0 {
			return nil, fmt.Errorf("attacktest: oracle asked for no images")
		}
		logits, err := arrowio.NewTensorArray(mem, []int{k}, values)
		if err != nil {
			return nil, err
		}
		defer logits.Release()
		schema := arrow.NewSchema([]arrow.Field{{Name: arrowio.ColLogits, Type: logits.DataType()}}, nil)
		return array.NewRecordBatch(schema, []arrow.Array{logits}, int64(images.Len())), nil
	}
}

// Oracle is m as the in-process sdk.Oracle, for Apply without a plugin process.
func (m Model) Oracle() sdk.Oracle { return modelOracle(m) }

type modelOracle Model

func (o modelOracle) Predict(_ context.Context, images *arrowio.TensorArray) (*sdk.Logits, error) {
	out := &sdk.Logits{}
	for i := 0; i < images.Len(); i++ {
		l := o(images.Row(i))
		out.K = len(l)
		out.Values = append(out.Values, l...)
	}
	return out, nil
}

// Gradient refuses: a hand-written model has no gradient (white-box attacks are tested on real models).
func (o modelOracle) Gradient(context.Context, *arrowio.TensorArray, []int32, string) (*sdk.Gradients, error) {
	return nil, fmt.Errorf("attacktest: a hand-written model has no gradient")
}

// SameAsInProcess applies the plugin process pt and the in-process plugin p to batch with the
// same parameters and seed and fails unless the two results are equal column by column: the
// batch crossed the process boundary both ways intact. It returns the process's result, which
// the caller releases.
func SameAsInProcess(t testing.TB, pt *host.Perturbation, p sdk.Perturbation, raw map[string]any, batch arrow.RecordBatch, env *sdk.Env) arrow.RecordBatch {
	t.Helper()
	got, err := pt.Apply(context.Background(), ParamsJSON(raw), batch, env.Seed)
	if err != nil {
		t.Fatal(err)
	}
	want := Apply(t, p, raw, batch, env)
	defer want.Release()
	if got.NumRows() != batch.NumRows() || !array.RecordEqual(got, want) {
		got.Release()
		t.Fatalf("%s %v: the process's result (%d rows, schema %s) differs from the in-process one (schema %s)",
			p.Info().Name, raw, got.NumRows(), got.Schema(), want.Schema())
	}
	return got
}

// IPCSize is the size of batch as an Arrow IPC stream, the payload one gRPC message carries.
func IPCSize(t testing.TB, batch arrow.RecordBatch, mem memory.Allocator) int {
	t.Helper()
	b, err := arrowio.EncodeIPC(batch, mem)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// Grating is a test image: in every channel of an H×W image, 0.5 plus a cosine of FX cycles
// per image across the columns and one of FY cycles down the rows, each of amplitude Amp. Its
// spectrum is the zero frequency and the four points (0, ±FX), (±FY, 0), so what a linear filter
// does to it is known by hand.
type Grating struct {
	H, W, FX, FY int
	Amp          float64
}

// Pixel is the grating as a pixel function for Batch.
func (g Grating) Pixel(_, j int) float32 { return float32(g.Filtered(j, 1, 1, 1)) }

// Filtered is value j of a grating image ([C,H,W]) after a filter that keeps the shares mean,
// sx and sy of its mean and of its two cosines, clipped to [0,1].
func (g Grating) Filtered(j int, mean, sx, sy float64) float64 {
	y, x := (j/g.W)%g.H, j%g.W
	v := mean*0.5 + sx*g.Amp*math.Cos(2*math.Pi*float64(g.FX*x)/float64(g.W)) +
		sy*g.Amp*math.Cos(2*math.Pi*float64(g.FY*y)/float64(g.H))
	return min(1, max(0, v))
}

// Check fails the test unless every value of got is Filtered(mean, sx, sy) within 1e-5.
func (g Grating) Check(t testing.TB, got []float32, mean, sx, sy float64, what string) {
	t.Helper()
	for j, v := range got {
		if want := g.Filtered(j, mean, sx, sy); math.Abs(float64(v)-want) > 1e-5 {
			t.Fatalf("%s: value %d (row %d, column %d) = %v, want %v", what, j, (j/g.W)%g.H, j%g.W, v, want)
		}
	}
}

// StartWithGradient is Start with a model oracle that also answers Gradient (white-box attacks).
func StartWithGradient(t testing.TB, pkg string, model sdk.Model, predict host.PredictFunc, gradient host.GradientFunc, mem memory.Allocator) *host.Perturbation {
	t.Helper()
	name := filepath.Base(pkg)
	dir := testenv.Plugins(t, pkg)
	ctx := context.Background()
	cat := host.NewCatalog()
	if err := cat.Add(ctx, filepath.Join(dir, host.BinaryPrefix+string(sdk.KindPerturbation)+"-"+name), ""); err != nil {
		t.Fatal(err)
	}
	e, ok := cat.Lookup(sdk.KindPerturbation, name)
	if !ok {
		t.Fatalf("attacktest: the catalog has no perturbation %q after adding its binary", name)
	}
	pt, err := host.StartPerturbationWithGradient(ctx, e, model, predict, gradient, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pt.Close)
	return pt
}

// StartRuntime starts the onnxruntime plugin with the model at path (path relative to the
// repository root, or absolute) taking h×w RGB images; the process stops when the test ends.
func StartRuntime(t testing.TB, path string, input *pb.InputMapping, output, outputTensor string, mem memory.Allocator) *host.Runtime {
	t.Helper()
	if !filepath.IsAbs(path) {
		path = filepath.Join(testenv.Root(t), path)
	}
	cat := testenv.Catalog(t, "runtimes/onnxruntime")
	e, ok := cat.Lookup(sdk.KindRuntime, "onnxruntime")
	if !ok {
		t.Fatal("attacktest: runtime plugin onnxruntime not discovered")
	}
	rt, err := host.StartRuntime(context.Background(), e, &pb.LoadRequest{Path: path, Name: filepath.Base(path),
		Input: input, Output: output, OutputTensor: outputTensor, IntraThreads: 1}, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	return rt
}
