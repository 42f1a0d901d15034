package host_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperHostEnv); dir != "" {
		helperHost(dir) // never returns
	}
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

func catalog(t testing.TB, pkgs ...string) *host.Catalog {
	t.Helper()
	dir := testenv.Plugins(t, pkgs...)
	cat := host.NewCatalog()
	if err := cat.Discover(context.Background(), []string{dir}); err != nil {
		t.Fatal(err)
	}
	return cat
}

func imageBatch(t *testing.T, mem memory.Allocator, n int, seed float32) arrow.RecordBatch {
	t.Helper()
	pix := make([]float32, n*3*224*224)
	for i := range pix {
		pix[i] = float32(i%251)/251*0.5 + seed*float32(i%7)/7*0.5
	}
	arr, err := arrowio.NewTensorArray(mem, []int{3, 224, 224}, pix)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: arr.DataType()}}, nil), []arrow.Array{arr}, int64(n))
}

func squeezenetLoad(t *testing.T) *pb.LoadRequest {
	return &pb.LoadRequest{
		Path: filepath.Join(testenv.SharedData(t, "models", "squeezenet1.1-fp16"), "model.onnx"), Name: "squeezenet",
		Input:  &pb.InputMapping{Channels: "BGR", Scale: 255, Mean: []float64{103.939, 116.779, 123.68}, Height: 224, Width: 224},
		Output: "logits", OutputTensor: "pool10_1", IntraThreads: 1,
	}
}

// TestRuntimeCrashRetried kills the runtime plugin while it works on a batch: the host restarts
// it, reloads the model and retries the batch, and the logits equal those of an undisturbed run.
// The batch is larger than gRPC's 4 MiB default in both directions of the first hop.
func TestRuntimeCrashRetried(t *testing.T) {
	cat := catalog(t, "runtimes/onnxruntime")
	e, ok := cat.Lookup(sdk.KindRuntime, "onnxruntime")
	if !ok {
		t.Fatal("runtime plugin not discovered")
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	rt, err := host.StartRuntime(ctx, e, squeezenetLoad(t), mem)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	batch := imageBatch(t, mem, 48, 1) // 48×3×224×224 float32 ≈ 29 MiB
	defer batch.Release()
	want, err := rt.Infer(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()

	pid := rt.PID()
	done := make(chan struct{})
	var got arrow.RecordBatch
	var inferErr error
	go func() {
		defer close(done)
		got, inferErr = rt.Infer(ctx, batch)
	}()
	// Kill the plugin while it computes the 48-image batch (about a quarter of a second on one
	// thread, seconds under load): once its CPU time has grown by 20 ms since the call began.
	base := cpuTicks(t, pid)
	for deadline := time.Now().Add(20 * time.Second); cpuTicks(t, pid) < base+2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	if inferErr != nil {
		t.Fatalf("infer after a crash: %v", inferErr)
	}
	defer got.Release()
	if rt.Restarts() != 1 || rt.PID() == pid {
		t.Fatalf("restarts %d, pid %d → %d; want one restart with a new process", rt.Restarts(), pid, rt.PID())
	}
	a, _ := arrowio.TensorColumn(want, arrowio.ColLogits)
	b, _ := arrowio.TensorColumn(got, arrowio.ColLogits)
	for i, v := range a.Values() {
		if b.Values()[i] != v {
			t.Fatalf("logit %d: %v after the restart, %v before", i, b.Values()[i], v)
		}
	}
}

// cpuTicks is the CPU time (user + system, in clock ticks) process pid has used, from /proc.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return math.MaxInt64 // gone: nothing to wait for
	}
	_, rest, _ := strings.Cut(string(b), ") ") // after the command name, which may hold spaces
	f := strings.Fields(rest)
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// TestMetricCrashRetried kills the metric plugin between calls: the next call restarts it.
func TestMetricCrashRetried(t *testing.T) {
	cat := catalog(t, "plugins/metrics/accuracy")
	e, _ := cat.Lookup(sdk.KindMetric, "accuracy")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	mp, err := host.StartMetric(e, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	m := mp.Bind(`{"topk":[1,2]}`, sdk.Model{Name: "m"})
	ctx := context.Background()
	st, err := m.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
	}, nil))
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b", "c"}, nil)
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{0, 1, 2}, nil)
	base := b.NewRecordBatch()
	b.Release()
	defer base.Release()
	// Logits: sample a → class 0 (top-1 hit), b → class 0 then 1 (top-2 hit), c → class 2 last (miss).
	lg, _ := arrowio.NewTensorArray(mem, []int{3}, []float32{3, 1, 0, 3, 2, 0, 1, 2, 0})
	defer lg.Release()
	batch, _ := arrowio.SetColumn(base, arrow.Field{Name: arrowio.ColLogits, Type: lg.DataType()}, lg)
	defer batch.Release()

	pid := mp.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	st, samples, err := m.Accumulate(ctx, st, batch)
	if err != nil {
		t.Fatalf("accumulate after a crash: %v", err)
	}
	samples.Release()
	rows, err := m.Report(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range rows {
		got[r.Metric] = r.Value
	}
	if got["top1"] != 1.0/3 || got["top2"] != 2.0/3 || mp.Restarts() != 1 {
		t.Errorf("rows %+v restarts %d; want top1 1/3, top2 2/3 after one restart", rows, mp.Restarts())
	}
}

// TestOracleAfterIdle: a model-dependent perturbation first queries its oracle long after the
// host started serving it (go-plugin drops broker connection info unclaimed for 5 s).
func TestOracleAfterIdle(t *testing.T) {
	cat := catalog(t, "plugins/attacks/randsol")
	e, ok := cat.Lookup(sdk.KindPerturbation, "randsol")
	if !ok {
		t.Fatal("randsol not discovered")
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	calls := 0
	// A model that always answers class 1 with certainty: every sample labelled 1 stays correct.
	predict := func(_ context.Context, images arrow.RecordBatch) (arrow.RecordBatch, error) {
		calls++
		n := int(images.NumRows())
		vals := make([]float32, 2*n)
		for i := 0; i < n; i++ {
			vals[2*i+1] = 10
		}
		lg, err := arrowio.NewTensorArray(mem, []int{2}, vals)
		if err != nil {
			return nil, err
		}
		defer lg.Release()
		return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColLogits, Type: lg.DataType()}}, nil), []arrow.Array{lg}, int64(n)), nil
	}
	pt, err := host.StartPerturbation(context.Background(), e, sdk.Model{Name: "ones", NumClasses: 2}, predict, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	time.Sleep(6 * time.Second)
	images := imageBatch(t, mem, 3, 0)
	defer images.Release()
	lb := array.NewInt32Builder(mem)
	lb.AppendValues([]int32{1, 1, 0}, nil)
	labels := lb.NewArray()
	lb.Release()
	defer labels.Release()
	batch, _ := arrowio.SetColumn(images, arrow.Field{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32}, labels)
	defer batch.Release()
	out, err := pt.Apply(context.Background(), `{"iterations": 4}`, batch, 7)
	if err != nil {
		t.Fatalf("apply after 6 s idle: %v", err)
	}
	defer out.Release()
	// Samples 0 and 1 stay correct through every round (randsol's iterations counts rounds of
	// drawing and evaluating), so the oracle answers once per round.
	if calls != 4 {
		t.Errorf("the oracle answered %d calls, want 4 (one per round)", calls)
	}
}
