package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/runtimes/onnx"
	"github.com/vistudy/vistudy/stages/load"
)

// Settings shared by both sides of the comparisons: the batch, and the intra-op threads of the
// bare ONNX Runtime loop at full width (the machine's cores; BenchmarkBareORT1 runs one).
const batchSize = 32

var threads = runtime.NumCPU()

var (
	mean   = [3]float32{103.939, 116.779, 123.68} // Caffe BGR means of SqueezeNet
	mean64 = [3]float64{103.939, 116.779, 123.68}
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// BenchmarkRun times `vistudy run` over the 500 ImageNet-sample images with SqueezeNet and the
// default threads (decode workers and ONNX Runtime intra-op threads): decoding, resizing, the
// plugin hop, inference and the accuracy metric, written to Parquet, start-up and finish
// included. img/s is wall-clock; img/cpu-s counts the CPU time of vistudy and its plugins.
func BenchmarkRun(b *testing.B) {
	dir := testenv.Plugins(b, "cmd/vistudy", "runtimes/onnxruntime", "plugins/metrics/accuracy")
	data := testenv.SharedData(b, "imagenet-sample")
	study := studyYAML(b, fmt.Sprintf("sample: {kind: imagefolder, path: %s, labels: imagenet1k}", data), 0)
	tmp := b.TempDir()
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		cpu += runStudy(b, dir, tmp, study, false).cpu
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "img/s")
	b.ReportMetric(float64(500*b.N)/cpu.Seconds(), "img/cpu-s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBareORT runs the same model with the same batch size and threads over the same
// 500 images, decoded, resized and mapped to the network's input beforehand (not timed).
func BenchmarkBareORT(b *testing.B) { benchBareORT(b, threads) }

// BenchmarkBareORT1 is BenchmarkBareORT on one intra-op thread: t_ORT of the serial-sum bound.
func BenchmarkBareORT1(b *testing.B) { benchBareORT(b, 1) }

// BenchmarkBareORTConcurrent runs the batches on as many goroutines as the machine has cores,
// each Run on one intra-op thread (inter-batch instead of intra-op parallelism): the measurement
// behind the next step of issue 15 (two batches in flight).
func BenchmarkBareORTConcurrent(b *testing.B) { benchBareORTWith(b, 1, runtime.NumCPU()) }

func benchBareORT(b *testing.B, threads int) { benchBareORTWith(b, threads, 1) }

func benchBareORTWith(b *testing.B, threads, workers int) {
	ort.SetSharedLibraryPath(testenv.ORTLibrary(b))
	if err := ort.InitializeEnvironment(); err != nil {
		b.Fatal(err)
	}
	defer ort.DestroyEnvironment()
	path := testenv.SharedData(b, "models", "squeezenet1.1-fp16", "model.onnx")
	data := testenv.SharedData(b, "imagenet-sample")
	m, err := onnx.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.SetBatchDim("batch"); err != nil {
		b.Fatal(err)
	}
	if err := m.ExposeOutput("pool10_1"); err != nil {
		b.Fatal(err)
	}
	in, out, err := m.Float32IO("data_0", "pool10_1")
	if err != nil {
		b.Fatal(err)
	}
	bytes, err := m.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	m.Close()
	opts, _ := ort.NewSessionOptions()
	opts.SetIntraOpNumThreads(threads)
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(bytes, []string{in}, []string{out}, opts)
	opts.Destroy()
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Destroy()

	ds, err := load.Open(load.Config{Name: "sample", Kind: load.KindImageFolder, Path: data, Labels: "imagenet1k"})
	if err != nil {
		b.Fatal(err)
	}
	g := load.Geometry{Resize: 256, Height: 224, Width: 224}
	const plane = 224 * 224
	var tensors [][]float32
	var cur []float32
	for _, s := range ds.Samples() {
		img, err := ds.Image(s)
		if err != nil {
			b.Fatal(err)
		}
		pix, err := load.Preprocess(img, g)
		if err != nil {
			b.Fatal(err)
		}
		for c := 0; c < 3; c++ { // BGR, 0–255, mean subtracted
			src := pix[(2-c)*plane : (3-c)*plane]
			for _, v := range src {
				cur = append(cur, v*255-mean[c])
			}
		}
		if len(cur) == batchSize*3*plane {
			tensors, cur = append(tensors, cur), nil
		}
	}
	if len(cur) > 0 {
		tensors = append(tensors, cur)
	}
	run := func(t []float32) error {
		n := int64(len(t) / (3 * plane))
		x, err := ort.NewTensor(ort.NewShape(n, 3, 224, 224), t)
		if err != nil {
			return err
		}
		defer x.Destroy()
		outs := []ort.Value{nil}
		if err := sess.Run([]ort.Value{x}, outs); err != nil {
			return err
		}
		outs[0].Destroy()
		return nil
	}
	b.ResetTimer()
	cpu0 := cpuSeconds(b)
	for i := 0; i < b.N; i++ {
		next := make(chan []float32)
		errs := make(chan error, workers)
		for range workers {
			go func() {
				var first error
				for t := range next {
					if err := run(t); err != nil && first == nil {
						first = err
					}
				}
				errs <- first
			}()
		}
		for _, t := range tensors {
			next <- t
		}
		close(next)
		for range workers {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu := cpuSeconds(b) - cpu0
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "img/s")
	b.ReportMetric(float64(500*b.N)/cpu, "img/cpu-s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkLoad times the load stage alone over the same images (decode, resize 256, crop 224):
// with inference on the same cores, it bounds what a whole run can reach.
func BenchmarkLoad(b *testing.B) {
	data := testenv.SharedData(b, "imagenet-sample")
	ds, err := load.Open(load.Config{Name: "sample", Kind: load.KindImageFolder, Path: data, Labels: "imagenet1k"})
	if err != nil {
		b.Fatal(err)
	}
	l := &load.Loader{BatchSize: batchSize}
	g := load.Geometry{Resize: 256, Height: 224, Width: 224}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := l.Run(context.Background(), ds, ds.Samples(), g, func(rec arrow.RecordBatch) error { rec.Release(); return nil }, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "img/s")
}
