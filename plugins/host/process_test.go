package host_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// helperHostEnv makes the test binary a host: it starts the accuracy plugin found in the folder
// the variable names, prints the plugin's pid and waits to be killed.
const helperHostEnv = "VISTUDY_TEST_HELPER_HOST"

func helperHost(dir string) {
	cat := host.NewCatalog()
	if err := cat.Discover(context.Background(), []string{dir}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	e, err := cat.Open(context.Background(), sdk.KindMetric, "accuracy")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	mp, err := host.StartMetric(e, memory.NewGoAllocator())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pid", mp.PID())
	select {}
}

// gone tells whether pid no longer runs (exited, or a zombie nobody reaped).
func gone(pid int) bool {
	running, known := host.Alive(pid)
	if !known {
		return syscall.Kill(pid, 0) != nil
	}
	return !running
}

// stop sends SIGSTOP to pid and waits until every thread has stopped (signals are delivered
// asynchronously: a call could still be answered right after kill returns).
func stop(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'T' {
			return
		}
	}
	t.Fatalf("plugin %d did not stop", pid)
}

func waitGone(t *testing.T, pid int, within time.Duration) bool {
	t.Helper()
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if gone(pid) {
			return true
		}
	}
	return false
}

// TestPluginDiesWithKilledHost: SIGKILL of a host process takes its plugin process with it.
func TestPluginDiesWithKilledHost(t *testing.T) {
	dir := catalogDir(t, "plugins/metrics/accuracy")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperHostEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "pid ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper host said %q (%v)", line, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	if pid <= 0 || gone(pid) {
		t.Fatalf("plugin pid %d is not running", pid)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if !waitGone(t, pid, 5*time.Second) {
		t.Fatalf("plugin %d still runs 5 s after its host was killed", pid)
	}
}

// TestStoppedPluginRestarted: a plugin stopped with SIGSTOP in the middle of a study fails its
// health check, is killed and restarted, and the call is retried instead of hanging.
func TestStoppedPluginRestarted(t *testing.T) {
	host.SetTimeouts(host.Timeouts{Check: 200 * time.Millisecond, Ping: 500 * time.Millisecond})
	t.Cleanup(func() { host.SetTimeouts(host.DefaultTimeouts) })
	mp := startAccuracy(t)
	m := mp.Bind(`{"topk":[1]}`, sdk.Model{Name: "m"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	pid := mp.PID()
	stop(t, pid)
	st, err := m.Init(ctx)
	if err != nil || len(st) == 0 {
		t.Fatalf("init with a stopped plugin: %v", err)
	}
	if mp.Restarts() != 1 || mp.PID() == pid {
		t.Errorf("restarts %d, pid %d → %d; want one restart", mp.Restarts(), pid, mp.PID())
	}
	if !waitGone(t, pid, 5*time.Second) {
		t.Errorf("the stopped plugin %d was not killed", pid)
	}
}

// TestPluginErrorIsPlain: a request the plugin refuses comes back in the plugin's words, without
// gRPC's status text, at once (the process is alive: no crash wait), and is not retried.
func TestPluginErrorIsPlain(t *testing.T) {
	mp := startAccuracy(t)
	_, err := mp.Bind(`{"topk": "five"}`, sdk.Model{Name: "m"}).Init(context.Background())
	if err == nil {
		t.Fatal("a string topk was accepted")
	}
	if msg := err.Error(); strings.Contains(msg, "rpc error") || strings.Contains(msg, "desc =") || !strings.Contains(msg, "accuracy") {
		t.Errorf("error %q: want the plugin's message without gRPC status text", msg)
	}
	if mp.Restarts() != 0 {
		t.Errorf("a request error restarted the plugin %d times", mp.Restarts())
	}
	for _, code := range []codes.Code{codes.Internal, codes.Unknown, codes.Canceled} {
		if host.Crashed(mp, status.Error(code, "boom")) {
			t.Errorf("%v from a live plugin counted as a crash", code)
		}
	}
	pid := mp.PID()
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(t, pid, 5*time.Second)
	if !host.Crashed(mp, status.Error(codes.Internal, "transport closed")) {
		t.Error("an Internal error from a dead plugin is not a crash")
	}
}

// BenchmarkRequestErrorCheck: telling a request error of a live plugin from a crash costs no wait
// (it slept about a second for every Internal or Unknown error before).
func BenchmarkRequestErrorCheck(b *testing.B) {
	mp := startAccuracy(b)
	err := status.Error(codes.Internal, "boom")
	for b.Loop() {
		if host.Crashed(mp, err) {
			b.Fatal("crash")
		}
	}
}

func catalogDir(t testing.TB, pkgs ...string) string {
	t.Helper()
	return testenv.Plugins(t, pkgs...)
}

func startAccuracy(t testing.TB) *host.MetricProcess {
	t.Helper()
	cat := catalog(t, "plugins/metrics/accuracy")
	e, ok := cat.Lookup(sdk.KindMetric, "accuracy")
	if !ok {
		t.Fatal("accuracy not discovered")
	}
	mp, err := host.StartMetric(e, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mp.Close)
	return mp
}

// TestStoppedRuntimeRestarted: a runtime plugin stopped during inference is killed, restarted
// with its model reloaded, and the batch's logits equal those of an undisturbed run.
func TestStoppedRuntimeRestarted(t *testing.T) {
	host.SetTimeouts(host.Timeouts{Check: 200 * time.Millisecond, Ping: 500 * time.Millisecond})
	t.Cleanup(func() { host.SetTimeouts(host.DefaultTimeouts) })
	cat := catalog(t, "runtimes/onnxruntime")
	e, ok := cat.Lookup(sdk.KindRuntime, "onnxruntime")
	if !ok {
		t.Fatal("runtime plugin not discovered")
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt, err := host.StartRuntime(ctx, e, squeezenetLoad(t), mem)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	batch := imageBatch(t, mem, 4, 0.5)
	defer batch.Release()
	want, err := rt.Infer(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	pid := rt.PID()
	stop(t, pid)
	got, err := rt.Infer(ctx, batch)
	if err != nil {
		t.Fatalf("infer with a stopped runtime: %v", err)
	}
	defer got.Release()
	if rt.Restarts() != 1 || rt.PID() == pid {
		t.Errorf("restarts %d, pid %d → %d; want one restart", rt.Restarts(), pid, rt.PID())
	}
	a, _ := arrowio.TensorColumn(want, arrowio.ColLogits)
	b, _ := arrowio.TensorColumn(got, arrowio.ColLogits)
	for i, v := range a.Values() {
		if b.Values()[i] != v {
			t.Fatalf("logit %d: %v after the restart, %v before", i, b.Values()[i], v)
		}
	}
}

// TestOracleErrorIsPlain: an error of the host's model oracle travels host → plugin → host and
// reaches the user without gRPC's status text at any hop.
func TestOracleErrorIsPlain(t *testing.T) {
	cat := catalog(t, "plugins/attacks/randsol")
	e, ok := cat.Lookup(sdk.KindPerturbation, "randsol")
	if !ok {
		t.Fatal("randsol not discovered")
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	predict := func(context.Context, arrow.RecordBatch) (arrow.RecordBatch, error) {
		return nil, errors.New("model m: infer: the runtime is gone")
	}
	pt, err := host.StartPerturbation(context.Background(), e, sdk.Model{Name: "m", NumClasses: 2}, predict, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	images := imageBatch(t, mem, 2, 0)
	defer images.Release()
	lb := array.NewInt32Builder(mem)
	lb.AppendValues([]int32{1, 0}, nil)
	labels := lb.NewArray()
	lb.Release()
	defer labels.Release()
	batch, _ := arrowio.SetColumn(images, arrow.Field{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32}, labels)
	defer batch.Release()
	_, err = pt.Apply(context.Background(), `{"iterations": 1}`, batch, 7)
	if err == nil {
		t.Fatal("apply with a failing oracle succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "rpc error") || strings.Contains(msg, "desc =") || !strings.Contains(msg, "the runtime is gone") {
		t.Errorf("error %q: want the oracle's message without gRPC status text", msg)
	}
}
