package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func TestChunkOf(t *testing.T) {
	for _, tc := range []struct {
		chunk     int
		providers []string
		want      int
	}{
		{0, nil, cpuChunk},
		{0, []string{"cpu"}, cpuChunk},
		{0, []string{"cuda", "cpu"}, 0},
		{0, []string{"tensorrt"}, 0},
		{-1, nil, 0},
		{3, nil, 3},
		{3, []string{"cuda"}, 3},
	} {
		if got := chunkOf(sdk.LoadSpec{Chunk: tc.chunk, Providers: tc.providers}); got != tc.want {
			t.Errorf("chunk %d, providers %v: %d, want %d", tc.chunk, tc.providers, got, tc.want)
		}
	}
}

// TestChunksEqualWholeBatch: a batch of 11 imagenet-sample images run in chunks side by side (the
// CPU default, and chunks of 1, 3, 4 and 16 on 1–3 threads) gives every image the logits of the
// whole batch in one run on two intra-op threads, bit for bit, also with two batches at once.
func TestChunksEqualWholeBatch(t *testing.T) {
	dir := squeezenet(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sample := testenv.SharedData(t, "imagenet-sample")
	entries, err := os.ReadDir(sample)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries[:11] {
		paths = append(paths, filepath.Join(sample, e.Name()))
	}
	batch := images(t, mem, paths...)
	defer batch.Release()
	enc, err := arrowio.EncodeIPC(batch, mem)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer()
	load := func(chunk, threads int32) *pb.LoadResponse {
		t.Helper()
		resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: filepath.Join(dir, "model.onnx"), Name: "sq",
			Input: caffeBGR255(true), Output: "logits", OutputTensor: "pool10_1", Chunk: chunk, IntraThreads: threads})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	whole := load(-1, 2)
	if whole.Chunk != 0 {
		t.Fatalf("chunk -1 runs in chunks of %d, want whole batches", whole.Chunk)
	}
	want := inferOnce(t, s, whole.Session, batch)
	for _, tc := range []struct{ chunk, threads, want int32 }{
		{0, 0, cpuChunk}, {1, 1, 1}, {3, 3, 3}, {4, 2, 4}, {16, 2, 16},
	} {
		resp := load(tc.chunk, tc.threads)
		if resp.Chunk != tc.want {
			t.Errorf("chunk %d: runs in chunks of %d, want %d", tc.chunk, resp.Chunk, tc.want)
		}
		// Two batches at once share the slots.
		var wg sync.WaitGroup
		outs := make([]*pb.InferResponse, 2)
		errs := make([]error, 2)
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = s.Infer(context.Background(), &pb.InferRequest{Session: resp.Session, Batch: enc})
			}()
		}
		wg.Wait()
		for i, out := range outs {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			g := logitRows(t, out)
			for i := range want {
				if !slices.Equal(g[i], want[i]) {
					t.Fatalf("chunk %d on %d threads: %s's logits differ from the whole batch's", tc.chunk, tc.threads, filepath.Base(paths[i]))
				}
			}
		}
	}
}

// TestBatchDependentGraphRunsWhole: a graph that subtracts its batch's mean logits is found out at
// load. By default it runs whole batches, with a warning, so every class's logits sum to 0 over
// the batch; with runtime.chunk set, its chunks are warned of and each sums to 0 on its own.
func TestBatchDependentGraphRunsWhole(t *testing.T) {
	t.Setenv(LibraryEnv, testenv.ORTLibrary(t))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := tinyClassifier(t, true)
	const n = 5
	pix := make([]float32, n*3*64)
	for i := range pix {
		pix[i] = float32((i*7)%11) / 10
	}
	arr, _ := arrowio.NewTensorArray(mem, []int{3, 8, 8}, pix)
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: arr.DataType()}}, nil), []arrow.Array{arr}, n)
	arr.Release()
	defer rec.Release()
	s := newServer()
	for _, tc := range []struct {
		chunk, want int32
		warning     string
		groups      [][]int // samples whose logits sum to 0 per class
		lone        bool    // sample 4's logits are 0: it ran alone
	}{
		{0, 0, "running whole batches", [][]int{{0, 1, 2, 3, 4}}, false},
		{2, 2, "runtime.chunk 2 changes them", [][]int{{0, 1}, {2, 3}, {4}}, true},
	} {
		resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: path, Name: "centred", Chunk: tc.chunk, IntraThreads: 1,
			Input: &pb.InputMapping{Height: 8, Width: 8}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Chunk != tc.want || !slices.ContainsFunc(resp.Warnings, func(w string) bool { return strings.Contains(w, tc.warning) }) {
			t.Errorf("chunk %d: runs in chunks of %d with warnings %q, want %d and %q", tc.chunk, resp.Chunk, resp.Warnings, tc.want, tc.warning)
		}
		got := inferOnce(t, s, resp.Session, rec)
		for _, g := range tc.groups {
			for k := range 3 {
				sum, size := 0.0, 0.0
				for _, i := range g {
					sum, size = sum+float64(got[i][k]), size+math.Abs(float64(got[i][k]))
				}
				if math.Abs(sum) > 1e-5 || (len(g) > 1 && size == 0) {
					t.Errorf("chunk %d: class %d's logits of samples %v sum to %g (magnitude %g), want 0", tc.chunk, k, g, sum, size)
				}
			}
		}
		if lone := !slices.ContainsFunc(got[4], func(v float32) bool { return v != 0 }); lone != tc.lone {
			t.Errorf("chunk %d: sample 4's logits %v, ran alone: %v, want %v", tc.chunk, got[4], lone, tc.lone)
		}
	}
}
