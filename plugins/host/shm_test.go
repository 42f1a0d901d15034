package host_test

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// TestSharedMemoryMatchesSocket sends the same batches to a runtime through shared memory and,
// with VISTUDY_SHM=off, as Arrow IPC over gRPC: the logits are equal bit for bit, including after
// the shared file grew for a larger batch and for a smaller one after it.
func TestSharedMemoryMatchesSocket(t *testing.T) {
	cat := catalog(t, "runtimes/onnxruntime")
	e, ok := cat.Lookup(sdk.KindRuntime, "onnxruntime")
	if !ok {
		t.Fatal("runtime plugin not discovered")
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	start := func(shm string) *host.Runtime {
		t.Setenv(sdk.EnvSharedMem, shm) // read at launch
		rt, err := host.StartRuntime(ctx, e, squeezenetLoad(t), mem)
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	shared := start("on")
	defer shared.Close()
	socket := start("off")
	defer socket.Close()
	os.Unsetenv(sdk.EnvSharedMem)
	if !shared.Desc().SharedMemory || socket.Desc().SharedMemory {
		t.Fatalf("shared memory in use: %v and %v, want true and false", shared.Desc().SharedMemory, socket.Desc().SharedMemory)
	}
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
