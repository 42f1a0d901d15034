package main

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// gradientOnce runs the Gradient call on images with labels.
func gradientOnce(t *testing.T, s pb.RuntimeServer, session string, pix []float32, labels []int32, loss string) *sdk.Gradients {
	t.Helper()
	mem := memory.DefaultAllocator
	arr, err := arrowio.NewTensorArray(mem, []int{3, 224, 224}, pix)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Release()
	lb := array.NewInt32Builder(mem)
	defer lb.Release()
	lb.AppendValues(labels, nil)
	lab := lb.NewArray()
	defer lab.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: arr.DataType()},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32}}, nil), []arrow.Array{arr, lab}, int64(len(labels)))
	defer rec.Release()
	data, err := arrowio.EncodeIPC(rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Gradient(context.Background(), &pb.RuntimeGradientRequest{Session: session, Batch: data, Loss: loss})
	if err != nil {
		t.Fatal(err)
	}
	g, err := sdk.DecodeGradients(resp.Batch, mem)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGradientChainRule: SqueezeNet's gradient with respect to [0,1] RGB pixels under the Caffe
// mapping (BGR, ·255, −mean) equals 255 × the gradient a session with the identity mapping gives
// for the mapped values, channels swapped back; logits are those of Infer, and the losses are
// cross-entropy and margin of those logits.
func TestGradientChainRule(t *testing.T) {
	dir := squeezenet(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := newServer()
	load := func(in *pb.InputMapping) string {
		resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: filepath.Join(dir, "model.onnx"), Name: "squeezenet",
			Input: in, OutputTensor: "pool10_1", Providers: []string{"cpu"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Session
	}
	caffe := load(caffeBGR255(true))
	identity := load(&pb.InputMapping{Height: 224, Width: 224})
	rec := images(t, mem, filepath.Join(dir, "fish.png"), filepath.Join(dir, "kitten_224.png"))
	defer rec.Release()
	img, _ := arrowio.TensorColumn(rec, arrowio.ColImage)
	pix := img.Values()
	mean := [3]float32{103.939, 116.779, 123.68}
	hw := 224 * 224
	mapped := make([]float32, len(pix))
	for i := 0; i < 2; i++ {
		for c := 0; c < 3; c++ { // model channel c (BGR) takes RGB channel 2−c
			for p := 0; p < hw; p++ {
				mapped[i*3*hw+c*hw+p] = pix[i*3*hw+(2-c)*hw+p]*255 - mean[c]
			}
		}
	}
	labels := []int32{0, 281}
	want := inferOnce(t, s, caffe, rec)
	if len(want) != 2 || len(want[0]) != 1000 {
		t.Fatalf("Infer gave %d rows", len(want))
	}
	for _, loss := range []string{"cross_entropy", "margin"} {
		g := gradientOnce(t, s, caffe, pix, labels, loss)
		ref := gradientOnce(t, s, identity, mapped, labels, loss)
		worst, scale := 0.0, 0.0
		for i := 0; i < 2; i++ {
			for c := 0; c < 3; c++ {
				for p := 0; p < hw; p++ {
					a := float64(g.Grad[i*3*hw+(2-c)*hw+p])
					b := 255 * float64(ref.Grad[i*3*hw+c*hw+p])
					worst = math.Max(worst, math.Abs(a-b))
					scale = math.Max(scale, math.Abs(b))
				}
			}
		}
		if scale == 0 || worst > 1e-4*scale {
			t.Errorf("%s: pixel gradient differs from 255 × the mapped-input gradient by %g (largest %g)", loss, worst, scale)
		}
		for i, y := range labels {
			z := g.Logits.Row(i)
			for k, v := range z {
				// the gradient graph computes in float32, Infer in the model's float16
				if math.Abs(float64(v-want[i][k])) > 0.05 {
					t.Fatalf("%s: sample %d logit %d = %g, Infer gives %g", loss, i, k, v, want[i][k])
				}
			}
			var l float64
			if loss == "margin" {
				best := math.Inf(-1)
				for k, v := range z {
					if k != int(y) {
						best = math.Max(best, float64(v))
					}
				}
				l = float64(z[y]) - best
			} else {
				mx, sum := math.Inf(-1), 0.0
				for _, v := range z {
					mx = math.Max(mx, float64(v))
				}
				for _, v := range z {
					sum += math.Exp(float64(v) - mx)
				}
				l = mx + math.Log(sum) - float64(z[y])
			}
			if math.Abs(l-float64(g.Loss[i])) > 1e-3*math.Max(1, math.Abs(l)) {
				t.Errorf("%s: sample %d loss %g, from its logits %g", loss, i, g.Loss[i], l)
			}
		}
	}
}
