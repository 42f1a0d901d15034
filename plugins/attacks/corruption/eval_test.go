package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
	"github.com/vistudy/vistudy/plugins/host"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/stages/load"
)

// TestSqueezeNetUnderCorruption measures SqueezeNet 1.1's top-1 accuracy on the first 100 images of
// imagenet-sample, clean and under the 15 corruptions at severities 1–5 (seed 1, each image's file
// name as its sample id), through the real ONNX Runtime plugin. It takes minutes, so it runs only
// with CORRUPTION_EVAL=1:
//
//	CORRUPTION_EVAL=1 go test -run SqueezeNetUnderCorruption -v -timeout 60m ./plugins/attacks/corruption/
func TestSqueezeNetUnderCorruption(t *testing.T) {
	if os.Getenv("CORRUPTION_EVAL") == "" {
		t.Skip("set CORRUPTION_EVAL=1 to measure SqueezeNet under every corruption (minutes)")
	}
	const n = 100
	dir := testenv.SharedData(t, "imagenet-sample")
	wnids := readLines(t, testenv.SharedData(t, "imagenet1k_wnids.txt"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".JPEG") {
			files = append(files, e.Name())
		}
	}
	slices.Sort(files)
	files = files[:n]
	g := load.Geometry{Resize: 256, Height: 224, Width: 224}
	const size = 3 * 224 * 224
	clean := make([]float32, n*size)
	labels := make([]int32, n)
	for i, f := range files {
		im, err := load.Decode(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		x, err := load.Preprocess(im, g)
		if err != nil {
			t.Fatal(err)
		}
		copy(clean[i*size:(i+1)*size], x)
		labels[i] = int32(slices.Index(wnids, f[:9]))
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cat := testenv.Catalog(t, "runtimes/onnxruntime")
	e, ok := cat.Lookup(sdk.KindRuntime, "onnxruntime")
	if !ok {
		t.Fatal("runtime plugin not discovered")
	}
	rt, err := host.StartRuntime(context.Background(), e, &pb.LoadRequest{
		Path: filepath.Join(testenv.SharedData(t, "models", "squeezenet1.1-fp16"), "model.onnx"), Name: "squeezenet",
		Input:  &pb.InputMapping{Channels: "BGR", Scale: 255, Mean: []float64{103.939, 116.779, 123.68}, Height: 224, Width: 224},
		Output: "logits", OutputTensor: "pool10_1", IntraThreads: 2,
	}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	accuracy := func(images []float32) float64 {
		batch := attacktest.Batch(t, mem, []int{3, 224, 224}, labels, func(row, j int) float32 { return images[row*size+j] })
		defer batch.Release()
		out, err := rt.Infer(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		logits, err := arrowio.TensorColumn(out, arrowio.ColLogits)
		if err != nil {
			t.Fatal(err)
		}
		right := 0
		for i := range n {
			if int32(sdk.Rank(logits.Row(i), labels[i])) == 0 {
				right++
			}
		}
		return float64(right) / n
	}
	cleanAcc := accuracy(clean)
	t.Logf("clean top-1 %.2f", cleanAcc)
	if cleanAcc < 0.5 {
		t.Fatalf("clean accuracy %.2f: the preprocessing or labels are wrong", cleanAcc)
	}
	corrupted := make([]float32, len(clean))
	var sum float64
	var table strings.Builder
	fmt.Fprintf(&table, "| corruption | s1 | s2 | s3 | s4 | s5 | mean |\n|---|---|---|---|---|---|---|\n")
	frost := frostDir(t)
	for _, name := range Common() {
		var row float64
		fmt.Fprintf(&table, "| %s |", name)
		for sev := 1; sev <= 5; sev++ {
			for i, f := range files {
				if err := Corrupt(corrupted[i*size:(i+1)*size], clean[i*size:(i+1)*size], 224, 224, name, sev, 1, f, frost); err != nil {
					t.Fatal(err)
				}
			}
			a := accuracy(corrupted)
			row += a / 5
			fmt.Fprintf(&table, " %.2f |", a)
		}
		sum += row
		fmt.Fprintf(&table, " %.3f |\n", row)
	}
	mean := sum / 15
	t.Logf("SqueezeNet 1.1, 100 imagenet-sample images, clean %.2f, mean over the 75 corruption×severity cells %.3f\n%s", cleanAcc, mean, table.String())
	if mean >= cleanAcc {
		t.Errorf("mean corrupted accuracy %.3f is not below clean %.2f", mean, cleanAcc)
	}
}

func readLines(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		out = append(out, strings.TrimSpace(s.Text()))
	}
	return out
}
