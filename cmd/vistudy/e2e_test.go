package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vistudy/vistudy/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// vistudyBin builds the CLI beside the plugins it needs (it finds them next to itself).
func vistudyBin(t *testing.T) string {
	t.Helper()
	dir := testenv.Plugins(t, "cmd/vistudy", "runtimes/onnxruntime", "plugins/metrics/accuracy")
	return filepath.Join(dir, "vistudy")
}

// squeezenetStudy writes a study of SqueezeNet on a seeded 64-image subset of the ImageNet
// sample, cut into 8 units of 8 images, into dir.
func squeezenetStudy(t *testing.T, dir, output string) string {
	t.Helper()
	model := testenv.SharedData(t, "models", "squeezenet1.1-fp16", "model.onnx")
	data := testenv.SharedData(t, "imagenet-sample")
	body := fmt.Sprintf(`name: sq
seed: 5
output: %s
execution: {batch_size: 4, unit_size: 8}
runtime: {threads: 1}
models:
  squeezenet:
    path: %s
    input: {resize: 256, size: 224, channels: BGR, scale: 255, mean: [103.939, 116.779, 123.68]}
    output: probabilities
datasets:
  sample: {kind: imagefolder, path: %s, labels: imagenet1k, limit: 64}
stages:
  - id: images
    load: {dataset: sample}
  - id: preds
    infer: {input: images}
  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1, 5]}}
`, output, model, data)
	p := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func mustRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, code := run(t, bin, args...)
	if code != 0 {
		t.Fatalf("vistudy %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func countUnits(dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, "units", "acc", "model=squeezenet", "u*.json"))
	return len(m)
}

// TestKillResumeAndShards: a host killed with SIGKILL mid-run resumes to the same
// results.parquet as an uninterrupted run, and so do two shards merged.
func TestKillResumeAndShards(t *testing.T) {
	bin := vistudyBin(t)
	dir := t.TempDir()
	study := squeezenetStudy(t, dir, "single")
	single := filepath.Join(dir, "single")
	mustRun(t, bin, "run", study)
	want := readFile(t, filepath.Join(single, "results.parquet"))
	out := mustRun(t, bin, "results", single)
	if !strings.Contains(out, "top1") || !strings.Contains(out, "64") {
		t.Fatalf("results:\n%s", out)
	}

	// Kill the host once two units are committed, then run again.
	killed := filepath.Join(dir, "killed")
	cmd := exec.Command(bin, "run", study, "--output", killed)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for countUnits(killed) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	n := countUnits(killed)
	if n < 2 || n == 8 {
		t.Fatalf("%d of 8 units committed when the host was killed; the test needs a partial run", n)
	}
	if _, err := os.Stat(filepath.Join(killed, "results.parquet")); err == nil {
		t.Fatal("a killed run left results.parquet")
	}
	mustRun(t, bin, "run", study, "--output", killed)
	if got := readFile(t, filepath.Join(killed, "results.parquet")); !bytes.Equal(got, want) {
		t.Error("results.parquet after kill and resume differs from the uninterrupted run's")
	}

	// Two shards, then merge.
	sharded := filepath.Join(dir, "sharded")
	mustRun(t, bin, "run", study, "--output", sharded, "--shard", "0/2")
	if out, code := run(t, bin, "merge", study, "--output", sharded); code == 0 || !strings.Contains(out, "4 of 8 units") {
		t.Errorf("merge with shard 1/2 missing: exit %d\n%s", code, out)
	}
	mustRun(t, bin, "run", study, "--output", sharded, "--shard", "1/2")
	mustRun(t, bin, "merge", study, "--output", sharded)
	if got := readFile(t, filepath.Join(sharded, "results.parquet")); !bytes.Equal(got, want) {
		t.Error("results.parquet of shards 0/2 + 1/2 merged differs from the single run's")
	}
}

// TestBadStudiesExit2: a wrong study exits with code 2 and names the YAML line.
func TestBadStudiesExit2(t *testing.T) {
	bin := vistudyBin(t)
	dir := t.TempDir()
	study := squeezenetStudy(t, dir, "x")
	orig := string(readFile(t, study))
	cases := []struct{ name, from, to, want string }{
		// The want strings start at the YAML line:column (the dataset line's columns depend on the data path).
		{"cycle", "infer: {input: images}", "infer: {input: acc}", `:16:5: stage "preds" is part of a cycle: preds → acc → preds`},
		{"unknown plugin", "metric: accuracy", "metric: shapebyas", `:19:29: stage "acc": unknown metric plugin "shapebyas"`},
		{"wrong parameter type", "topk: [1, 5]", "topk: [1, many]", `:19:56: stage "acc": parameter "topk": element 1: want a number (int), got the string "many"`},
		{"unknown dataset key", "limit: 64}", "limit: 64, lables: x}", `: dataset "sample": unknown key "lables" for an imagefolder dataset`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(p, []byte(strings.Replace(orig, c.from, c.to, 1)), 0o644)
			for _, verb := range []string{"validate", "run"} {
				out, code := run(t, bin, verb, p)
				if code != 2 || !strings.Contains(out, c.want) {
					t.Errorf("vistudy %s: exit %d, want 2 and a message containing %q:\n%s", verb, code, c.want, out)
				}
			}
		})
	}
}

// TestOverridesAndPlan: environment variables and --set override study keys; plan prints the
// DAG as text and as Graphviz; version and plugins list answer.
func TestOverridesAndPlan(t *testing.T) {
	bin := vistudyBin(t)
	dir := t.TempDir()
	study := squeezenetStudy(t, dir, "x")
	cmd := exec.Command(bin, "plan", study, "--set", "name=renamed", "--set", "models.squeezenet.input.size=[224, 224]")
	cmd.Env = append(os.Environ(), "VISTUDY_SEED=9", "VISTUDY_EXECUTION_BATCH_SIZE=notanumber")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "environment VISTUDY_EXECUTION_BATCH_SIZE: execution.batch_size must be an integer") {
		t.Fatalf("a bad environment override: %v\n%s", err, out)
	}
	cmd = exec.Command(bin, "plan", study, "--set", "name=renamed")
	cmd.Env = append(os.Environ(), "VISTUDY_SEED=9")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "study renamed (seed 9)") || !strings.Contains(string(out), "measure acc accuracy") {
		t.Fatalf("plan with overrides: %v\n%s", err, out)
	}
	dot := mustRun(t, bin, "plan", study, "--dot")
	if !strings.HasPrefix(dot, `digraph "sq"`) || strings.Count(dot, "->") != 2 {
		t.Errorf("plan --dot:\n%s", dot)
	}
	if v := mustRun(t, bin, "version"); !strings.HasPrefix(v, "vistudy ") {
		t.Errorf("version: %s", v)
	}
	list := mustRun(t, bin, "plugins", "list")
	for _, want := range []string{"metric", "accuracy", "topk:int_list", "runtime", "onnxruntime"} {
		if !strings.Contains(list, want) {
			t.Errorf("plugins list lacks %q:\n%s", want, list)
		}
	}
}
