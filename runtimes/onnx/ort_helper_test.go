package onnx

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// Paths of the repository root and the shared test data, relative to this package's folder.
var (
	repoRoot   = filepath.Join("..", "..")
	sharedData = filepath.Join(repoRoot, "..", "shared", "data")
	squeezenet = filepath.Join(sharedData, "models", "squeezenet1.1-fp16", "model.onnx")
)

var (
	ortOnce sync.Once
	ortErr  error
	ortLib  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if ort.IsInitialized() {
		ort.DestroyEnvironment()
	}
	os.Exit(code)
}

// requireORT initialises ONNX Runtime once, or skips when its shared library is absent.
func requireORT(t testing.TB) {
	t.Helper()
	ortOnce.Do(func() {
		ortLib = os.Getenv("ONNXRUNTIME_LIB")
		if ortLib == "" {
			ortLib = filepath.Join(repoRoot, ".deps", "onnxruntime", "libonnxruntime.so.1")
		}
		if _, err := os.Stat(ortLib); err != nil {
			ortLib = ""
			return
		}
		ort.SetSharedLibraryPath(ortLib)
		ortErr = ort.InitializeEnvironment()
	})
	if ortLib == "" {
		t.Skip("ONNX Runtime library not found: set ONNXRUNTIME_LIB or install it at .deps/onnxruntime/libonnxruntime.so.1")
	}
	if ortErr != nil {
		t.Fatalf("initialise ONNX Runtime from %s: %v", ortLib, ortErr)
	}
}

// requireSqueezeNet returns the SqueezeNet path, or skips when the shared data is absent.
func requireSqueezeNet(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(squeezenet); err != nil {
		t.Skipf("shared test data not found (%v): SqueezeNet tests need ../shared/data", err)
	}
	return squeezenet
}

// ortFp16InitializerFusion is the ONNX Runtime optimizer that crashes on overridable float16 initializers.
const ortFp16InitializerFusion = "FuseFp16InitializerToFp32NodeTransformer"

// ortTensor is a named tensor fed to or read from ONNX Runtime, values held as float32.
type ortTensor struct {
	name  string
	dt    DType // Float32 or Float16
	shape []int64
	vals  []float32 // nil for outputs before the run
}

// session is an ONNX Runtime session run through I/O binding, so each run chooses which inputs it binds.
type session struct {
	t *testing.T
	s *ort.DynamicAdvancedSession
}

// newSession creates a CPU session on model bytes. With overridable set it disables the ONNX Runtime
// optimizer that crashes on float16 models with overridable initializers (see PromoteInitializers).
func newSession(t *testing.T, model []byte, overridable bool) *session {
	t.Helper()
	requireORT(t)
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatalf("session options: %v", err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		t.Fatalf("session options: %v", err)
	}
	if overridable {
		if err := opts.AddSessionConfigEntry("optimization.disable_specified_optimizers", ortFp16InitializerFusion); err != nil {
			t.Fatalf("session options: %v", err)
		}
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, nil, nil, opts)
	if err != nil {
		t.Fatalf("create ONNX Runtime session: %v", err)
	}
	t.Cleanup(func() { s.Destroy() })
	return &session{t: t, s: s}
}

// run binds the inputs, runs, and returns the outputs (whose name, dt and shape the caller gives).
func (s *session) run(inputs []ortTensor, outputs []ortTensor) [][]float32 {
	t := s.t
	t.Helper()
	b, err := s.s.CreateIoBinding()
	if err != nil {
		t.Fatalf("create I/O binding: %v", err)
	}
	defer b.Destroy()
	var keep []ort.Value
	defer func() {
		for _, v := range keep {
			v.Destroy()
		}
	}()
	for _, in := range inputs {
		v := newOrtValue(t, in, in.vals)
		keep = append(keep, v)
		if err := b.BindInput(in.name, v); err != nil {
			t.Fatalf("bind input %s: %v", in.name, err)
		}
	}
	outVals := make([]ort.Value, len(outputs))
	for i, out := range outputs {
		outVals[i] = newOrtValue(t, out, make([]float32, product(out.shape)))
		keep = append(keep, outVals[i])
		if err := b.BindOutput(out.name, outVals[i]); err != nil {
			t.Fatalf("bind output %s: %v", out.name, err)
		}
	}
	if err := s.s.RunWithBinding(b); err != nil {
		t.Fatalf("run: %v", err)
	}
	res := make([][]float32, len(outputs))
	for i, v := range outVals {
		switch v := v.(type) {
		case *ort.Tensor[float32]:
			res[i] = append([]float32(nil), v.GetData()...)
		case *ort.CustomDataTensor:
			data := v.GetData()
			res[i] = make([]float32, len(data)/2)
			for j := range res[i] {
				res[i][j] = Float16ToFloat32(binary.LittleEndian.Uint16(data[2*j:]))
			}
		}
	}
	runtime.KeepAlive(keep)
	return res
}

// newOrtValue makes an ONNX Runtime tensor of the given type holding vals.
func newOrtValue(t *testing.T, spec ortTensor, vals []float32) ort.Value {
	t.Helper()
	shape := ort.NewShape(spec.shape...)
	switch spec.dt {
	case Float32:
		v, err := ort.NewTensor(shape, append([]float32(nil), vals...))
		if err != nil {
			t.Fatalf("tensor %s: %v", spec.name, err)
		}
		return v
	case Float16:
		raw, err := encodeRaw(vals, Float16)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ort.NewCustomDataTensor(shape, raw, ort.TensorElementDataTypeFloat16)
		if err != nil {
			t.Fatalf("tensor %s: %v", spec.name, err)
		}
		return v
	}
	t.Fatalf("tensor %s: type %s not handled by the test harness", spec.name, spec.dt)
	return nil
}

// maxAbsDiff is the largest |a[i]-b[i]|; +Inf when lengths differ.
func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
