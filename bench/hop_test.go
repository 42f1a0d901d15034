package bench

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/stages/load"
)

// BenchmarkHop times the plugin hop of one 32-image batch (host → runtime plugin → host) against
// that batch's inference: the host's wall time of Runtime.InferTimed minus the time the plugin
// reports for the session's own work (input mapping, ONNX Runtime, output). Three ways, in the
// same alternating rounds: the batch made in the shared arena, as a run makes its batches (no
// copy: the runtime reads the pixels where the load stage wrote them); the same pixels in ordinary
// memory (one copy into a per-call memory file); and Arrow IPC over gRPC (VISTUDY_SHM=off).
// Reported: medians over b.N rounds, in ms, and hop ÷ inference for each way.
func BenchmarkHop(b *testing.B) {
	dir := testenv.Plugins(b, "runtimes/onnxruntime")
	cat := host.NewCatalog()
	ctx := context.Background()
	if err := cat.Discover(ctx, []string{dir}); err != nil {
		b.Fatal(err)
	}
	e, err := cat.Open(ctx, sdk.KindRuntime, "onnxruntime")
	if err != nil {
		b.Fatal(err)
	}
	model := testenv.SharedData(b, "models", "squeezenet1.1-fp16", "model.onnx")
	spec := sdk.LoadSpec{Path: model, Name: "squeezenet", Output: "logits", OutputTensor: "pool10_1", IntraThreads: threads,
		Input: sdk.InputMapping{Channels: "BGR", Scale: 255, Mean: mean64[:], Height: 224, Width: 224}}
	mem := memory.NewGoAllocator()
	start := func(shm string) *host.Runtime {
		os.Setenv(sdk.EnvSharedMem, shm) // read when the process is launched
		defer os.Unsetenv(sdk.EnvSharedMem)
		rt, err := host.StartRuntimeSpec(ctx, e, spec, mem)
		if err != nil {
			b.Fatal(err)
		}
		return rt
	}
	shared, ipc := start("on"), start("off")
	defer shared.Close()
	defer ipc.Close()
	if !shared.Desc().SharedMemory || ipc.Desc().SharedMemory {
		b.Fatalf("shared memory: %v and %v, want on and off", shared.Desc().SharedMemory, ipc.Desc().SharedMemory)
	}
	arena := host.SharedArena()
	if arena == nil {
		b.Fatal("no shared arena")
	}
	batch := imageBatch(b, mem, batchSize)
	defer batch.Release()
	inArena := imageBatch(b, host.ArenaAllocator{Allocator: mem, Arena: arena}, batchSize)
	defer inArena.Release()
	call := func(rt *host.Runtime, batch arrow.RecordBatch) (hop, infer time.Duration) {
		t0 := time.Now()
		out, took, err := rt.InferTimed(ctx, batch)
		wall := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
		if took <= 0 {
			b.Fatal("the runtime reported no inference time")
		}
		return wall - took, took
	}
	for range 2 { // warm up: first runs allocate ONNX Runtime's arenas and grow the shared file
		call(shared, inArena)
		call(shared, batch)
		call(ipc, batch)
	}
	var ha, hs, hi, ia, is, ii []float64
	b.ResetTimer()
	for range b.N {
		h, i := call(shared, inArena)
		ha, ia = append(ha, ms(h)), append(ia, ms(i))
		h, i = call(shared, batch)
		hs, is = append(hs, ms(h)), append(is, ms(i))
		h, i = call(ipc, batch)
		hi, ii = append(hi, ms(h)), append(ii, ms(i))
	}
	b.StopTimer()
	b.ReportMetric(median(ha), "hop-ms-arena")
	b.ReportMetric(median(hs), "hop-ms-shm")
	b.ReportMetric(median(hi), "hop-ms-ipc")
	b.ReportMetric(median(ia), "infer-ms")
	b.ReportMetric(median(ha)/median(ia), "hop/infer-arena")
	b.ReportMetric(median(hs)/median(is), "hop/infer-shm")
	b.ReportMetric(median(hi)/median(ii), "hop/infer-ipc")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// imageBatch is a batch of the first n imagenet-sample images, loaded as the load stage does.
func imageBatch(b *testing.B, mem memory.Allocator, n int) arrow.RecordBatch {
	ds, err := load.Open(load.Config{Name: "sample", Kind: load.KindImageFolder, Path: testenv.SharedData(b, "imagenet-sample"), Labels: "imagenet1k"})
	if err != nil {
		b.Fatal(err)
	}
	g := load.Geometry{Resize: 256, Height: 224, Width: 224}
	var pix []float32
	for _, s := range ds.Samples()[:n] {
		img, err := ds.Image(s)
		if err != nil {
			b.Fatal(err)
		}
		p, err := load.Preprocess(img, g)
		if err != nil {
			b.Fatal(err)
		}
		pix = append(pix, p...)
	}
	arr, err := arrowio.NewTensorArray(mem, []int{3, 224, 224}, pix)
	if err != nil {
		b.Fatal(err)
	}
	defer arr.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: arr.DataType()}}, nil), []arrow.Array{arr}, int64(n))
}
