package host_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sys/unix"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// sharedAndSocket starts two SqueezeNet runtimes of the runtime plugin: one with shared memory
// and one with VISTUDY_SHM=off (Arrow IPC over gRPC); both stop when the test ends.
func sharedAndSocket(t *testing.T, mem memory.Allocator) (shared, socket *host.Runtime) {
	t.Helper()
	cat := catalog(t, "runtimes/onnxruntime")
	e, ok := cat.Lookup(sdk.KindRuntime, "onnxruntime")
	if !ok {
		t.Fatal("runtime plugin not discovered")
	}
	start := func(shm string) *host.Runtime {
		t.Setenv(sdk.EnvSharedMem, shm) // read at launch
		rt, err := host.StartRuntime(context.Background(), e, squeezenetLoad(t), mem)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rt.Close)
		return rt
	}
	shared, socket = start("on"), start("off")
	os.Unsetenv(sdk.EnvSharedMem)
	if !shared.Desc().SharedMemory || socket.Desc().SharedMemory {
		t.Fatalf("shared memory in use: %v and %v, want true and false", shared.Desc().SharedMemory, socket.Desc().SharedMemory)
	}
	return shared, socket
}

// TestSharedMemoryMatchesSocket sends the same batches to a runtime through shared memory and,
// with VISTUDY_SHM=off, as Arrow IPC over gRPC: the logits are equal bit for bit, including after
// the shared file grew for a larger batch and for a smaller one after it.
func TestSharedMemoryMatchesSocket(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	shared, socket := sharedAndSocket(t, mem)
	for _, tc := range []struct {
		name string
		rows int
		seed float32
	}{{"first", 4, 0}, {"larger: the file grows", 12, 1}, {"smaller", 2, 0.5}} {
		t.Run(tc.name, func(t *testing.T) {
			batch := imageBatch(t, mem, tc.rows, tc.seed)
			defer batch.Release()
			a, took, err := shared.InferTimed(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Release()
			if took <= 0 {
				t.Errorf("the runtime reported %v for its own work", took)
			}
			b, err := socket.Infer(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Release()
			la, _ := arrowio.TensorColumn(a, arrowio.ColLogits)
			lb, _ := arrowio.TensorColumn(b, arrowio.ColLogits)
			if la.Len() != tc.rows || !slices.Equal(la.Values(), lb.Values()) {
				t.Fatalf("logits through shared memory (%d rows) differ from those over the socket (%d rows)", la.Len(), lb.Len())
			}
		})
	}
}

// TestSharedMemoryConcurrentCalls sends six batches at once to one runtime process: they go
// through several of its memory files (and over the socket once all are busy), and every batch's
// logits equal those of the same batch sent alone over the socket.
func TestSharedMemoryConcurrentCalls(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	shared, socket := sharedAndSocket(t, mem)
	const calls = 6
	batches := make([]arrow.RecordBatch, calls)
	for i := range batches {
		batches[i] = imageBatch(t, mem, 2+i%3, float32(i)/calls)
		defer batches[i].Release()
	}
	got := make([][]float32, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := shared.Infer(ctx, b)
			if err != nil {
				errs[i] = err
				return
			}
			defer out.Release()
			lg, _ := arrowio.TensorColumn(out, arrowio.ColLogits)
			got[i] = slices.Clone(lg.Values())
		}()
	}
	wg.Wait()
	for i, b := range batches {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		want, err := socket.Infer(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		lw, _ := arrowio.TensorColumn(want, arrowio.ColLogits)
		if !slices.Equal(got[i], lw.Values()) {
			t.Errorf("call %d: logits through shared memory differ from the socket's", i)
		}
		want.Release()
	}
	if n := host.SharedFilesUsed(shared); n < 2 {
		t.Errorf("%d memory files held a batch during %d concurrent calls, want 2 or more", n, calls)
	}
}

// TestArenaBatchesZeroCopy builds batches in the shared arena, as a run's batches are, and sends
// them to a runtime: they reach it with none of its per-call memory files used (no copy), their
// logits equal those of the same pixels over the socket, and every arena byte is free afterwards,
// including a batch trimmed after it was made.
func TestArenaBatchesZeroCopy(t *testing.T) {
	arena := host.SharedArena()
	if arena == nil {
		t.Skip("no shared arena on this platform")
	}
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer checked.AssertSize(t, 0)
	inUse := arena.InUse()
	mem := host.ArenaAllocator{Allocator: checked, Arena: arena}
	shared, socket := sharedAndSocket(t, checked)
	for _, rows := range []int{4, 3} {
		batch := imageBatch(t, mem, rows, float32(rows)/4)
		img, _ := arrowio.TensorColumn(batch, arrowio.ColImage)
		vals := img.Values()
		if !arena.Owns(unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), 4*len(vals))) {
			t.Fatalf("a %d-image batch made with the arena allocator is not in the arena", rows)
		}
		if !sameLogits(t, shared, socket, batch) {
			t.Errorf("%d images: logits from the arena differ from those over the socket", rows)
		}
		batch.Release()
	}
	if n := host.SharedFilesUsed(shared); n != 0 {
		t.Errorf("%d per-call memory files were used for arena batches, want none (no copy)", n)
	}
	// A buffer trimmed after it was made (the last, short batch of a unit) is freed whole.
	buf := mem.Allocate(3 << 20)
	buf = mem.Reallocate(2<<20, buf)
	mem.Free(buf)
	if got := arena.InUse(); got != inUse {
		t.Errorf("arena holds %d bytes after every batch was released, want %d", got, inUse)
	}
}

// TestArenaUnmappableFallsBack limits the runtime process's address space (as `ulimit -v` or a
// batch system may) so that it cannot map the 64 GiB arena: a batch made in the arena is then
// copied into a per-call memory file instead, and its logits still equal the socket's.
func TestArenaUnmappableFallsBack(t *testing.T) {
	arena := host.SharedArena()
	if arena == nil {
		t.Skip("no shared arena on this platform")
	}
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer checked.AssertSize(t, 0)
	shared, socket := sharedAndSocket(t, checked)
	pid := shared.PID()
	vsize := procStatusKB(t, pid, "VmSize:") << 10
	limit := unix.Rlimit{Cur: uint64(vsize) + 1<<30, Max: uint64(vsize) + 1<<30}
	if err := unix.Prlimit(pid, unix.RLIMIT_AS, &limit, nil); err != nil {
		t.Skipf("cannot limit the plugin's address space: %v", err)
	}
	batch := imageBatch(t, host.ArenaAllocator{Allocator: checked, Arena: arena}, 2, 0.3)
	defer batch.Release()
	for range 2 { // the first call finds the arena unmappable, the second goes straight to the copy
		if !sameLogits(t, shared, socket, batch) {
			t.Error("logits of the copied batch differ from the socket's")
		}
	}
	if n := host.SharedFilesUsed(shared); n != 1 {
		t.Errorf("%d per-call memory files used after the arena could not be mapped, want 1", n)
	}
}

// sameLogits runs batch through both runtimes and reports whether they gave the same logits for
// every row, bit for bit.
func sameLogits(t *testing.T, a, b *host.Runtime, batch arrow.RecordBatch) bool {
	t.Helper()
	var got [2][]float32
	for i, rt := range []*host.Runtime{a, b} {
		out, err := rt.Infer(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		lg, _ := arrowio.TensorColumn(out, arrowio.ColLogits)
		if lg.Len() != int(batch.NumRows()) {
			t.Fatalf("%d rows of logits for %d images", lg.Len(), batch.NumRows())
		}
		got[i] = slices.Clone(lg.Values())
		out.Release()
	}
	return slices.Equal(got[0], got[1])
}

// procStatusKB reads a kB field of /proc/<pid>/status.
func procStatusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
