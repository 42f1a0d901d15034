package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/runtimes/onnx"
	"github.com/vistudy/vistudy/stages/infer"
	"github.com/vistudy/vistudy/stages/load"
)

// squeezenet returns the shared SqueezeNet fp16 model folder, or skips.
func squeezenet(t *testing.T) string {
	t.Setenv(LibraryEnv, testenv.ORTLibrary(t))
	return testenv.SharedData(t, "models", "squeezenet1.1-fp16")
}

// images decodes files into one [n,3,224,224] batch record.
func images(t *testing.T, mem memory.Allocator, paths ...string) arrow.RecordBatch {
	t.Helper()
	var pix []float32
	for _, p := range paths {
		img, err := load.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		g := load.Geometry{Height: 224, Width: 224} // the model folder's images are 224×224 already
		if b := img.Bounds(); b.Dx() != 224 || b.Dy() != 224 {
			g.Resize = 256
		}
		v, err := load.Preprocess(img, g)
		if err != nil {
			t.Fatal(err)
		}
		pix = append(pix, v...)
	}
	arr, err := arrowio.NewTensorArray(mem, []int{3, 224, 224}, pix)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: arr.DataType()}}, nil), []arrow.Array{arr}, int64(len(paths)))
}

// inferOnce runs rec through a loaded session of s and returns the logits rows.
func inferOnce(t *testing.T, s pb.RuntimeServer, session string, rec arrow.RecordBatch) [][]float32 {
	t.Helper()
	data, err := arrowio.EncodeIPC(rec, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Infer(context.Background(), &pb.InferRequest{Session: session, Batch: data})
	if err != nil {
		t.Fatal(err)
	}
	return logitRows(t, resp)
}

// logitRows reads the logits rows of an Infer response.
func logitRows(t *testing.T, resp *pb.InferResponse) [][]float32 {
	t.Helper()
	out, err := arrowio.DecodeIPC(resp.Batch, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	lg, err := arrowio.TensorColumn(out, arrowio.ColLogits)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][]float32, lg.Len())
	for i := range rows {
		rows[i] = append([]float32(nil), lg.Row(i)...)
	}
	return rows
}

func caffeBGR255(mean bool) *pb.InputMapping {
	m := &pb.InputMapping{Channels: "BGR", Scale: 255, Height: 224, Width: 224}
	if mean {
		m.Mean = []float64{103.939, 116.779, 123.68}
	}
	return m
}

func probs(logits []float32) []float64 {
	p := make([]float64, len(logits))
	infer.Softmax(logits, p)
	return p
}

// TestFishTench is the reference check of the model folder's README: fish.png as BGR 0–255
// without mean subtraction gives tench 0.737793.
func TestFishTench(t *testing.T) {
	dir := squeezenet(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := newServer()
	resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: filepath.Join(dir, "model.onnx"), Name: "squeezenet",
		Input: caffeBGR255(false), Output: "probabilities", Providers: []string{"cpu"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Batching != batchRewritten || resp.NumClasses != 1000 {
		t.Errorf("batching %q, classes %d; want rewritten, 1000", resp.Batching, resp.NumClasses)
	}
	rec := images(t, mem, filepath.Join(dir, "fish.png"))
	defer rec.Release()
	p := probs(inferOnce(t, s, resp.Session, rec)[0])
	if math.Abs(p[0]-0.7378) > 0.002 {
		t.Errorf("tench probability %.5f, want 0.7378 ± 0.002", p[0])
	}
	if p[389] < 0.25 || p[389] > 0.26 {
		t.Errorf("barracouta probability %.5f, want ≈ 0.2559", p[389])
	}
}

// TestBatchEqualsSingles: the rewritten symbolic batch gives the same logits as one image at a time.
func TestBatchEqualsSingles(t *testing.T) {
	dir := squeezenet(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := newServer()
	resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: filepath.Join(dir, "model.onnx"), Name: "sq",
		Input: caffeBGR255(true), Output: "logits", OutputTensor: "pool10_1", IntraThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"fish.png", "kitten_224.png"}
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(dir, f))
	}
	shark := testenv.SharedData(t, "imagenet-sample", "n01484850_great_white_shark.JPEG")
	files, paths = append(files, filepath.Base(shark)), append(paths, shark)
	batch := images(t, mem, paths...)
	defer batch.Release()
	all := inferOnce(t, s, resp.Session, batch)
	for i, p := range paths {
		one := images(t, mem, p)
		got := inferOnce(t, s, resp.Session, one)[0]
		one.Release()
		for j := range got {
			if got[j] != all[i][j] {
				t.Fatalf("%s: logit %d is %v alone and %v in the batch", files[i], j, got[j], all[i][j])
			}
		}
	}
	// The logits tensor before the Softmax agrees with the probabilities output.
	resp2, err := s.Load(context.Background(), &pb.LoadRequest{Path: filepath.Join(dir, "model.onnx"), Name: "sq-p",
		Input: caffeBGR255(true), Output: "probabilities"})
	if err != nil {
		t.Fatal(err)
	}
	viaProbs := inferOnce(t, s, resp2.Session, batch)
	for i := range all {
		a, b := probs(all[i]), probs(viaProbs[i])
		for j := range a {
			if math.Abs(a[j]-b[j]) > 2e-3 {
				t.Fatalf("sample %d class %d: softmax(pool10_1) %.5f vs softmaxout_1 %.5f", i, j, a[j], b[j])
			}
		}
	}
}

// TestProviders: a missing execution provider is an error naming it, or a warning with fallback.
func TestProviders(t *testing.T) {
	dir := squeezenet(t)
	s := newServer()
	req := &pb.LoadRequest{Path: filepath.Join(dir, "model.onnx"), Name: "sq", Input: caffeBGR255(true), Output: "probabilities",
		Providers: []string{"cuda", "cpu"}}
	_, err := s.Load(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "execution provider cuda is not available") {
		t.Fatalf("want a missing-cuda error, got %v", err)
	}
	req.Providers = []string{"tensorrt", "cuda", "cpu"}
	req.ProviderFallback = true
	resp, err := s.Load(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(resp.Providers, ",") != "cpu" || len(resp.Warnings) != 2 {
		t.Errorf("providers %v warnings %q; want cpu with two fallback warnings", resp.Providers, resp.Warnings)
	}
}

// TestOverrides: replacing conv10's weights changes the outputs; clearing them restores them exactly.
func TestOverrides(t *testing.T) {
	dir := squeezenet(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := newServer()
	path := filepath.Join(dir, "model.onnx")
	resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: path, Name: "sq", Input: caffeBGR255(true),
		Output: "logits", OutputTensor: "pool10_1", Overridable: []string{"conv10_w_0", "conv10_b_0"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := images(t, mem, filepath.Join(dir, "fish.png"))
	defer rec.Release()
	orig := inferOnce(t, s, resp.Session, rec)[0]
	m, err := onnx.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	bias, err := m.Initializer("conv10_b_0")
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Zero weights: pool10 = relu(bias) for every image, so logits equal relu(bias).
	zeros := make([]byte, 4*1000*512)
	if _, err := s.SetOverrides(context.Background(), &pb.OverridesRequest{Session: resp.Session,
		Overrides: []*pb.Override{{Name: "conv10_w_0", Dims: []int64{1000, 512, 1, 1}, Values: zeros}}}); err != nil {
		t.Fatal(err)
	}
	got := inferOnce(t, s, resp.Session, rec)[0]
	for j, b := range bias.Float32 {
		if want := float32(math.Max(float64(b), 0)); math.Abs(float64(got[j]-want)) > 1e-3 {
			t.Fatalf("class %d: logit %v with zero conv10 weights, want relu(bias) = %v", j, got[j], want)
		}
	}
	if _, err := s.SetOverrides(context.Background(), &pb.OverridesRequest{Session: resp.Session}); err != nil {
		t.Fatal(err)
	}
	back := inferOnce(t, s, resp.Session, rec)[0]
	for j := range orig {
		if back[j] != orig[j] {
			t.Fatalf("class %d: %v after clearing overrides, %v before", j, back[j], orig[j])
		}
	}
	_, err = s.SetOverrides(context.Background(), &pb.OverridesRequest{Session: resp.Session,
		Overrides: []*pb.Override{{Name: "conv1_w_0", Dims: []int64{64, 3, 3, 3}, Values: make([]byte, 4*64*27)}}})
	if err == nil || !strings.Contains(err.Error(), "not declared overridable") {
		t.Errorf("want an error for an undeclared override, got %v", err)
	}
}

// TestTinyClassifier: a float32 model with a symbolic batch runs batched as it is, NHWC too.
// tinyClassifier writes a 3-class classifier of 8×8 images (batchCentred: its logits less the
// batch's mean) and returns its path.
func tinyClassifier(t *testing.T, batchCentred bool) string {
	t.Helper()
	c := onnx.Classifier{DType: onnx.Float32, Channels: 3, Height: 8, Width: 8, Filters: 2, Kernel: 3, Classes: 3,
		ConvWeight: make([]float32, 2*3*3*3), ConvBias: []float32{0.5, -0.5},
		FCWeight: []float32{1, 0, 0, 1, 1, -1}, FCBias: []float32{0, 0.1, 0.2}, BatchCentred: batchCentred}
	for i := range c.ConvWeight {
		c.ConvWeight[i] = float32(i%5) * 0.1
	}
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTinyClassifier(t *testing.T) {
	t.Setenv(LibraryEnv, testenv.ORTLibrary(t))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := tinyClassifier(t, false)
	s := newServer()
	resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: path, Name: "tiny",
		Input: &pb.InputMapping{Height: 8, Width: 8, Mean: []float64{0.5}, Std: []float64{0.25}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Batching != batchSymbolic || resp.NumClasses != 3 {
		t.Errorf("batching %q classes %d, want symbolic 3", resp.Batching, resp.NumClasses)
	}
	pix := make([]float32, 5*3*64)
	for i := range pix {
		pix[i] = float32((i*7)%11) / 10
	}
	arr, _ := arrowio.NewTensorArray(mem, []int{3, 8, 8}, pix)
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: arr.DataType()}}, nil), []arrow.Array{arr}, 5)
	arr.Release()
	defer rec.Release()
	got := inferOnce(t, s, resp.Session, rec)
	if len(got) != 5 || len(got[0]) != 3 {
		t.Fatalf("logits shape %dx%d, want 5x3", len(got), len(got[0]))
	}
	// A wrongly sized image batch is refused with a message naming the sizes.
	bad, _ := arrowio.NewTensorArray(mem, []int{3, 4, 4}, make([]float32, 48))
	badRec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: bad.DataType()}}, nil), []arrow.Array{bad}, 1)
	bad.Release()
	defer badRec.Release()
	b, _ := arrowio.EncodeIPC(badRec, mem)
	if _, err := s.Infer(context.Background(), &pb.InferRequest{Session: resp.Session, Batch: b}); err == nil || !strings.Contains(err.Error(), "[3,8,8]") {
		t.Errorf("want a size error, got %v", err)
	}
}

// TestPaddingVariant: a load spec's padding runs the model with its Conv zero padding rewritten
// (the border analysis's variants): the interior of the output is the trained model's, the logits
// change, and an unknown mode is refused.
func TestPaddingVariant(t *testing.T) {
	t.Setenv(LibraryEnv, testenv.ORTLibrary(t))
	path := filepath.Join(testenv.Root(t), "zoo", "models", "standard.onnx")
	s := newServer()
	pix := make([]float32, 2*3*64*64)
	for i := range pix {
		pix[i] = float32((i*13)%17) / 16
	}
	arr, _ := arrowio.NewTensorArray(memory.DefaultAllocator, []int{3, 64, 64}, pix)
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: arr.DataType()}}, nil), []arrow.Array{arr}, 2)
	arr.Release()
	defer rec.Release()
	logits := map[string][][]float32{}
	for _, mode := range []string{"", "zeros", "reflect", "circular"} {
		resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: path, Name: "standard-" + mode,
			Input: &pb.InputMapping{Height: 64, Width: 64}, Padding: mode})
		if err != nil {
			t.Fatalf("padding %q: %v", mode, err)
		}
		logits[mode] = inferOnce(t, s, resp.Session, rec)
	}
	if !slices.Equal(logits[""][0], logits["zeros"][0]) {
		t.Error("padding zeros changed the trained model's logits")
	}
	for _, mode := range []string{"reflect", "circular"} {
		if slices.Equal(logits[""][0], logits[mode][0]) {
			t.Errorf("padding %s gives the trained model's logits: the rewrite did not reach the session", mode)
		}
	}
	if _, err := s.Load(context.Background(), &pb.LoadRequest{Path: path, Name: "x", Input: &pb.InputMapping{Height: 64, Width: 64}, Padding: "mirror"}); err == nil {
		t.Error("padding mirror was accepted")
	}
}
