package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/vistudy/vistudy/internal/testenv"
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

// BenchmarkBareORT1Chunk is BenchmarkBareORT1 with each batch run in runs of 4 images (the runtime
// plugin's chunk on the CPU): t_ORT at the chunk, for the stricter bound bench/run.sh also prints.
func BenchmarkBareORT1Chunk(b *testing.B) { benchBareORTOpts(b, 1, 1, 4, false, nil) }

// BenchmarkBareORTConcurrent runs the batches on as many goroutines as the machine has cores,
// each Run on one intra-op thread (inter-batch instead of intra-op parallelism): the measurement
// behind the next step of issue 15 (two batches in flight).
func BenchmarkBareORTConcurrent(b *testing.B) { benchBareORTWith(b, 1, runtime.NumCPU()) }

// BenchmarkBareORTBesidePIL is BenchmarkBareORT (intra-op threads = cores, spinning off, as the
// runtime plugin runs) while as many PIL processes as cores run bench/pil_preprocess.py over the
// same files: both halves of B on the same cores at once, with no vistudy code in the loop. Its
// img/cpu-s against BenchmarkBareORT's alone says what sharing the cores costs ONNX Runtime;
// pil-img/cpu-s is PIL's rate over the same time (bench/run.sh prints the bound they give).
func BenchmarkBareORTBesidePIL(b *testing.B) {
	files := sampleJPEGs(b)
	if err := exec.Command("/usr/bin/python3", "-c", "import PIL").Run(); err != nil {
		b.Skipf("PIL reference needs /usr/bin/python3 with python3-pil: %v", err)
	}
	var pil []*exec.Cmd
	var outs []*bytes.Buffer
	beside := func() {
		for range runtime.NumCPU() {
			var out bytes.Buffer
			// Two rounds a pass: PIL's round on half a core outlasts ONNX Runtime's pass on the other half.
			rounds := strconv.Itoa(2 * b.N)
			cmd := exec.Command("/usr/bin/python3", append([]string{"pil_preprocess.py", rounds, "0"}, files...)...)
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			pil, outs = append(pil, cmd), append(outs, &out)
		}
		time.Sleep(time.Second) // Python's start-up and the page-cache pass are not the overlap
	}
	benchBareORTOpts(b, threads, 1, 0, true, beside)
	var rate float64 // PIL's images per CPU second, over its rounds (beside ONNX Runtime's passes)
	n := 0
	for i, cmd := range pil {
		if err := cmd.Wait(); err != nil {
			b.Fatalf("pil_preprocess.py: %v", err)
		}
		sc := bufio.NewScanner(outs[i])
		for sc.Scan() {
			var w, c float64
			if _, err := fmt.Sscanf(sc.Text(), "pil %g %g", &w, &c); err == nil {
				rate, n = rate+c, n+1
			}
		}
	}
	if n == 0 {
		b.Fatal("no PIL round finished")
	}
	b.ReportMetric(rate/float64(n), "pil-img/cpu-s")
}

func benchBareORT(b *testing.B, threads int) { benchBareORTWith(b, threads, 1) }

func benchBareORTWith(b *testing.B, threads, workers int) {
	benchBareORTOpts(b, threads, workers, 0, false, nil)
}

// benchBareORTOpts runs the bare loop; chunk > 0 runs each batch in runs of that many images,
// noSpin turns ONNX Runtime's spinning off (as the runtime plugin does), and before, when not
// nil, runs just before the timed passes.
func benchBareORTOpts(b *testing.B, threads, workers, chunk int, noSpin bool, before func()) {
	ort.SetSharedLibraryPath(testenv.ORTLibrary(b))
	if err := ort.InitializeEnvironment(); err != nil {
		b.Fatal(err)
	}
	defer ort.DestroyEnvironment()
	path := testenv.SharedData(b, "models", "squeezenet1.1-fp16", "model.onnx")
	data := testenv.SharedData(b, "imagenet-sample")
	sess := bareSession(b, path, "pool10_1", threads, noSpin)
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
	runOne := func(t []float32) error {
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
	run := func(t []float32) error {
		step := len(t)
		if chunk > 0 {
			step = chunk * 3 * plane
		}
		for i := 0; i < len(t); i += step {
			if err := runOne(t[i:min(i+step, len(t))]); err != nil {
				return err
			}
		}
		return nil
	}
	if before != nil {
		before()
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
