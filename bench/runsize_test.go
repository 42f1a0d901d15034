package bench

import (
	"fmt"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// BenchmarkBareORTRunSize runs bare ONNX Runtime on one thread over 256 inputs in runs of 1 to 32
// samples, for SqueezeNet 1.1 fp16, the int8 MobileNetV2 and the zoo's 64×64 CNN: the measurement
// behind the runtime plugin's default chunk on the CPU (bench/README.md, Chunks). The inputs are
// fixed pseudo-random pixels; the kernels' time does not depend on them.
func BenchmarkBareORTRunSize(b *testing.B) {
	ort.SetSharedLibraryPath(testenv.ORTLibrary(b))
	if err := ort.InitializeEnvironment(); err != nil {
		b.Fatal(err)
	}
	defer ort.DestroyEnvironment()
	for _, m := range []struct {
		name, path string
		side       int64
	}{
		{"squeezenet", testenv.SharedData(b, "models", "squeezenet1.1-fp16", "model.onnx"), 224},
		{"mobilenetv2-int8", testenv.SharedData(b, "models", "mobilenetv2-12-int8", "model.onnx"), 224},
		{"zoo", filepath.Join(testenv.Root(b), "zoo", "models", "standard.onnx"), 64},
	} {
		sess := bareSession(b, m.path, "", 1, true)
		const total = 256
		per := 3 * m.side * m.side
		pix := make([]float32, total*per)
		x := uint32(1)
		for i := range pix {
			x = x*1664525 + 1013904223
			pix[i] = float32(x>>8) / (1 << 24)
		}
		for _, size := range []int64{1, 2, 4, 8, 16, 32} {
			b.Run(fmt.Sprintf("%s/run=%d", m.name, size), func(b *testing.B) {
				cpu0 := cpuSeconds(b)
				for range b.N {
					for i := int64(0); i < total; i += size {
						in, err := ort.NewTensor(ort.NewShape(size, 3, m.side, m.side), pix[i*per:(i+size)*per])
						if err != nil {
							b.Fatal(err)
						}
						outs := []ort.Value{nil}
						if err := sess.Run([]ort.Value{in}, outs); err != nil {
							b.Fatal(err)
						}
						outs[0].Destroy()
						in.Destroy()
					}
				}
				b.ReportMetric(float64(total*b.N)/(cpuSeconds(b)-cpu0), "img/cpu-s")
				b.ReportMetric(0, "ns/op")
			})
		}
		sess.Destroy()
	}
}

// bareSession is an ONNX Runtime session of the model at path with a symbolic batch, float32
// input and output (output, else the graph's first), threads intra-op threads and, with noSpin,
// spinning off (as the runtime plugin runs it).
func bareSession(b *testing.B, path, output string, threads int, noSpin bool) *ort.DynamicAdvancedSession {
	m, err := onnx.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ins := m.Inputs()
	if ins[0].Dims[0].Value > 0 {
		if err := m.SetBatchDim("batch"); err != nil {
			b.Fatal(err)
		}
	}
	if output == "" {
		output = m.Outputs()[0].Name
	} else if err := m.ExposeOutput(output); err != nil {
		b.Fatal(err)
	}
	in, out, err := m.Float32IO(ins[0].Name, output)
	if err != nil {
		b.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		b.Fatal(err)
	}
	if noSpin {
		if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			b.Fatal(err)
		}
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{in}, []string{out}, opts)
	if err != nil {
		b.Fatal(err)
	}
	return sess
}
