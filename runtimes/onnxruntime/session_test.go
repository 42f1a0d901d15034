package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
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

// externalLogits are the logits of testdata/external for the image whose pixel i (CHW order) is
// i/12: x·W with W[i][j] = (3i+j−17)/8, computed with numpy when the fixture was written.
var externalLogits = []float32{4.125, 4.8125, 5.5}

// rampBatch is one [3,2,2] image with pixel i = i/12.
func rampBatch(t *testing.T, mem memory.Allocator, n int) arrow.RecordBatch {
	t.Helper()
	pix := make([]float32, 0, 12*n)
	for range n {
		for i := range 12 {
			pix = append(pix, float32(i)/12)
		}
	}
	arr, err := arrowio.NewTensorArray(mem, []int{3, 2, 2}, pix)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: arr.DataType()}}, nil), []arrow.Array{arr}, int64(n))
}

// TestExternalDataBesideModel: a model whose weights live in w.bin beside it loads from any
// current directory, and a w.bin in the current directory is never read instead.
func TestExternalDataBesideModel(t *testing.T) {
	t.Setenv(LibraryEnv, testenv.ORTLibrary(t))
	src, err := filepath.Abs(filepath.Join("testdata", "external"))
	if err != nil {
		t.Fatal(err)
	}
	modelDir := t.TempDir()
	for _, f := range []string{"model.onnx", "w.bin"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(modelDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cwd := t.TempDir()
	decoy := make([]byte, 144) // the size of the real w.bin, all 0x7f: huge logits if read
	for i := range decoy {
		decoy[i] = 0x7f
	}
	if err := os.WriteFile(filepath.Join(cwd, "w.bin"), decoy, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := newServer()
	resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: filepath.Join(modelDir, "model.onnx"), Name: "ext",
		Input: &pb.InputMapping{Height: 2, Width: 2}})
	if err != nil {
		t.Fatalf("load from another directory: %v", err)
	}
	rec := rampBatch(t, mem, 2)
	defer rec.Release()
	got := inferOnce(t, s, resp.Session, rec)
	for i, row := range got {
		if !slices.Equal(row, externalLogits) {
			t.Errorf("sample %d: logits %v, want %v (the weights beside the model)", i, row, externalLogits)
		}
	}
}

// TestConcurrentInfer runs one session from several goroutines (run it with -race).
func TestConcurrentInfer(t *testing.T) {
	t.Setenv(LibraryEnv, testenv.ORTLibrary(t))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := newServer()
	resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: filepath.Join("testdata", "external", "model.onnx"), Name: "ext",
		Input: &pb.InputMapping{Height: 2, Width: 2}})
	if err != nil {
		t.Fatal(err)
	}
	rec := rampBatch(t, mem, 3)
	defer rec.Release()
	data, err := arrowio.EncodeIPC(rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for g := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := s.Infer(context.Background(), &pb.InferRequest{Session: resp.Session, Batch: data}); err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestBadOverrideChangesNothing: an override set with one bad entry is refused as a whole
// (checked before any tensor is made) and the weights in force stay.
func TestBadOverrideChangesNothing(t *testing.T) {
	t.Setenv(LibraryEnv, testenv.ORTLibrary(t))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := newServer()
	resp, err := s.Load(context.Background(), &pb.LoadRequest{Path: filepath.Join("testdata", "external", "model.onnx"), Name: "ext",
		Input: &pb.InputMapping{Height: 2, Width: 2}, Overridable: []string{"W"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := rampBatch(t, mem, 1)
	defer rec.Release()
	trained := inferOnce(t, s, resp.Session, rec)[0] // fed as an input, W may round differently in the last bit
	for j, v := range trained {
		if math.Abs(float64(v-externalLogits[j])) > 1e-5 {
			t.Fatalf("logits %v with W as an input, want %v", trained, externalLogits)
		}
	}
	good := &pb.Override{Name: "W", Dims: []int64{12, 3}, Values: make([]byte, 4*36)}
	for _, bad := range []*pb.Override{
		{Name: "W", Dims: []int64{3, 12}, Values: make([]byte, 4*36)},
		{Name: "W", Dims: []int64{12, 3}, Values: make([]byte, 4*35)},
		{Name: "V", Dims: []int64{12, 3}, Values: make([]byte, 4*36)},
	} {
		if _, err := s.SetOverrides(context.Background(), &pb.OverridesRequest{Session: resp.Session, Overrides: []*pb.Override{good, bad}}); err == nil {
			t.Errorf("override %s %v with %d bytes accepted", bad.Name, bad.Dims, len(bad.Values))
		}
		if got := inferOnce(t, s, resp.Session, rec)[0]; !slices.Equal(got, trained) {
			t.Fatalf("logits %v after a refused override, want the trained %v", got, trained)
		}
	}
	if _, err := s.SetOverrides(context.Background(), &pb.OverridesRequest{Session: resp.Session, Overrides: []*pb.Override{good}}); err != nil {
		t.Fatal(err)
	}
	if got := inferOnce(t, s, resp.Session, rec)[0]; !slices.Equal(got, []float32{0, 0, 0}) {
		t.Errorf("logits %v with zero weights, want zeros", got)
	}
}

// TestIntraThreads: the inference session's intra-op threads are the request's, or the cores
// shared among the host's streams when it left them to the runtime (0: ONNX Runtime's default).
func TestIntraThreads(t *testing.T) {
	cores := goruntime.NumCPU()
	for _, tc := range []struct {
		threads, streams, want int
	}{
		{0, 0, 0},
		{0, 1, 0},
		{3, 0, 3},
		{3, 2, 3},
		{0, 2, max(1, cores/2)},
		{0, 2 * cores, 1},
	} {
		if got := intraThreads(sdk.LoadSpec{IntraThreads: tc.threads, Streams: tc.streams}); got != tc.want {
			t.Errorf("threads %d, streams %d: %d intra-op threads, want %d", tc.threads, tc.streams, got, tc.want)
		}
	}
}
