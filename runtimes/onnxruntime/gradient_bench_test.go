package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/vistudy/vistudy/internal/testenv"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// BenchmarkGradientOverInference times the Gradient call against Infer on the same batch of 8
// images (one intra-op thread) and reports their ratio as grad/infer; the issue aims at ≤ 3.
//
//	go test ./runtimes/onnxruntime -run '^$' -bench GradientOverInference -benchtime 5x
func BenchmarkGradientOverInference(b *testing.B) {
	b.Setenv(LibraryEnv, testenv.ORTLibrary(b))
	for _, tc := range []struct {
		name string
		req  func() *pb.LoadRequest
		size int
	}{
		{"squeezenet", func() *pb.LoadRequest {
			return &pb.LoadRequest{Path: filepath.Join(testenv.SharedData(b, "models", "squeezenet1.1-fp16"), "model.onnx"),
				Name: "squeezenet", Input: caffeBGR255(true), OutputTensor: "pool10_1", IntraThreads: 1}
		}, 224},
		{"zoo-standard", func() *pb.LoadRequest {
			return &pb.LoadRequest{Path: filepath.Join(testenv.Root(b), "zoo", "models", "standard.onnx"), Name: "standard",
				Input: &pb.InputMapping{Height: 64, Width: 64}, IntraThreads: 1}
		}, 64},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sess, err := loadSession(sdk.LoadSpecFromProto(tc.req()))
			if err != nil {
				b.Fatal(err)
			}
			defer sess.close()
			const n = 8
			pix := make([]float32, n*3*tc.size*tc.size)
			for i := range pix {
				pix[i] = float32(i%251) / 250
			}
			labels := make([]int64, n)
			if _, _, _, _, err := sess.gradient(pix, labels, ""); err != nil { // builds the gradient session
				b.Fatal(err)
			}
			var inferT, gradT time.Duration
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if _, _, err := sess.run(pix, n); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, _, _, _, err := sess.gradient(pix, labels, ""); err != nil {
					b.Fatal(err)
				}
				inferT += t1.Sub(t0)
				gradT += time.Since(t1)
			}
			b.ReportMetric(float64(gradT)/float64(inferT), "grad/infer")
			b.ReportMetric(float64(inferT.Milliseconds())/float64(b.N), "infer-ms/op")
			b.ReportMetric(float64(gradT.Milliseconds())/float64(b.N), "grad-ms/op")
		})
	}
}
