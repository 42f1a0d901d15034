package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/scaleout/slurm"
)

// zooStudy writes a study of two zoo models on 128 synthetic images in 16 units of 8, and
// returns its path.
func zooStudy(t *testing.T, dir string) string {
	t.Helper()
	zoo := filepath.Join(testenv.Root(t), "zoo", "models")
	body := fmt.Sprintf(`name: scale
seed: 3
execution: {batch_size: 8, unit_size: 8, parallel_models: 2}
runtime: {threads: 1}
models:
  standard: {path: %[1]s/standard.onnx, input: {size: 64}, labels: %[1]s/labels.txt}
  stylised: {path: %[1]s/stylised.onnx, input: {size: 64}, labels: %[1]s/labels.txt}
datasets:
  clean: {kind: synthetic-cue-conflict, set: aligned, seed: 7, per_pair: 16, labels: %[1]s/labels.txt}
stages:
  - id: images
    load: {dataset: clean}
  - id: preds
    infer: {input: images}
  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1, 2]}}
`, zoo)
	p := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startSlurm starts a one-node Slurm cluster under dir with scripts/slurm-cluster.sh, points
// SLURM_CONF at it, and stops it when the test ends.
func startSlurm(t *testing.T, dir string) {
	t.Helper()
	t.Setenv("PATH", os.Getenv("PATH")+":/usr/sbin:/sbin") // the daemons live in sbin
	for _, b := range []string{"munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("Slurm integration test skipped: %s is not installed (Debian packages slurm-wlm and munge; .ci/run installs them)", b)
		}
	}
	script := filepath.Join(testenv.Root(t), "scripts", "slurm-cluster.sh")
	out, err := exec.Command(script, "start", dir).CombinedOutput()
	t.Cleanup(func() {
		if b, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			t.Errorf("stop the Slurm cluster: %v\n%s", err, b)
		}
	})
	if err != nil {
		t.Fatalf("start the Slurm cluster: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^SLURM_CONF=(.+)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("slurm-cluster.sh printed no SLURM_CONF:\n%s", out)
	}
	t.Setenv("SLURM_CONF", string(m[1]))
}

// waitSettled waits until no job of the run directory's submissions is queued or running, and
// returns the queue's last word on them.
func waitSettled(t *testing.T, runDir string, timeout time.Duration) []slurm.TaskState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rec, err := slurm.ReadRecord(runDir)
		if err != nil {
			t.Fatal(err)
		}
		var jobs []string
		for _, s := range rec.Submissions {
			jobs = append(jobs, s.Array, s.Merge)
		}
		q, err := slurm.Queue(context.Background(), jobs...)
		if err != nil {
			t.Fatal(err)
		}
		active := false
		for _, s := range q {
			active = active || s.Active()
		}
		if !active {
			return q
		}
		if time.Now().After(deadline) {
			logs, _ := filepath.Glob(filepath.Join(runDir, slurm.Dir, "*.log"))
			var b strings.Builder
			for _, l := range logs {
				fmt.Fprintf(&b, "== %s\n%s\n", l, readFile(t, l))
			}
			t.Fatalf("jobs still queued after %s: %+v\n%s", timeout, q, b.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitTaskEnded waits until array task job_task has left the running states, and returns the queue.
func waitTaskEnded(t *testing.T, runDir, job string, task int, timeout time.Duration) []slurm.TaskState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rec, err := slurm.ReadRecord(runDir)
		if err != nil {
			t.Fatal(err)
		}
		var jobs []string
		for _, s := range rec.Submissions {
			jobs = append(jobs, s.Array, s.Merge)
		}
		q, err := slurm.Queue(context.Background(), jobs...)
		if err != nil {
			t.Fatal(err)
		}
		ended := false
		for _, s := range q {
			if s.Job == job && s.Task == task && !s.Active() {
				ended = true
			}
		}
		if ended {
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s_%d still active after %s: %+v", job, task, timeout, q)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unrecordedParts lists the visible files under tables/ that no unit record names.
func unrecordedParts(t *testing.T, runDir string) []string {
	t.Helper()
	named := map[string]bool{}
	recs, _ := filepath.Glob(filepath.Join(runDir, "units", "*", "*", "*.json"))
	for _, r := range recs {
		var rec struct {
			Tables []string `json:"tables"`
		}
		if err := json.Unmarshal(readFile(t, r), &rec); err != nil {
			t.Fatalf("record %s: %v", r, err)
		}
		for _, p := range rec.Tables {
			named[p] = true
		}
	}
	var stray []string
	_ = filepath.WalkDir(filepath.Join(runDir, "tables"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(runDir, p)
		if !named[filepath.ToSlash(rel)] {
			stray = append(stray, rel)
		}
		return nil
	})
	return stray
}

// mergeState is the queue's state of the newest merge job of a run directory.
func mergeState(t *testing.T, runDir string, q []slurm.TaskState) string {
	t.Helper()
	rec, err := slurm.ReadRecord(runDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range q {
		if s.Job == rec.Last().Merge {
			return s.State
		}
	}
	return "unknown"
}

// shardProcess finds the vistudy process running shard of runDir (started by the test's cluster).
func shardProcess(runDir, shard string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 3 && args[1] == "run" && args[2] == "--shard" && args[3] == shard && bytes.Contains(b, []byte("output="+runDir+"\x00")) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}

// shardRecords counts the unit records shard 2 of 4 committed (units u00002, u00006, ...).
func shardRecords(runDir string) int {
	all, _ := filepath.Glob(filepath.Join(runDir, "units", "*", "*", "u*.json"))
	n := 0
	for _, f := range all {
		k, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "u"), ".json"))
		if err == nil && k%4 == 2 {
			n++
		}
	}
	return n
}

// TestSlurmArrayEqualsSingleRun submits a study as a 4-task job array to a real one-node Slurm
// cluster: the merged results equal a single-process run's byte for byte, and so do they after
// one task is stopped part-way and cancelled, then resumed.
func TestSlurmArrayEqualsSingleRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Slurm cluster and runs a study three times (about 30 s)")
	}
	dir, err := os.MkdirTemp("", "vs-slurm-") // short: the munge socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := vistudyBin(t)
	startSlurm(t, filepath.Join(dir, "cluster"))
	study := zooStudy(t, dir)
	single := filepath.Join(dir, "single")
	mustRun(t, bin, "run", study, "--output", single)
	want := readFile(t, filepath.Join(single, "results.parquet"))
	const shardUnits = 4 * 5 // units u00002, 06, 10, 14 of images, preds × 2 models, acc × 2 models

	t.Run("array", func(t *testing.T) {
		runDir := filepath.Join(dir, "array")
		out := mustRun(t, bin, "submit", "--slurm", "--shards", "4", "--cpus-per-task", "1", study, "--output", runDir)
		if !strings.Contains(out, "submitted array job") {
			t.Fatalf("submit printed:\n%s", out)
		}
		script := string(readFile(t, slurm.Path(runDir, slurm.ArrayScript)))
		if !strings.Contains(script, `run --shard "$shard/4"`) || !strings.Contains(script, "#SBATCH --cpus-per-task=1") {
			t.Fatalf("array script:\n%s", script)
		}
		q := waitSettled(t, runDir, 60*time.Second)
		if s := mergeState(t, runDir, q); s != "COMPLETED" {
			t.Fatalf("merge job %s; log:\n%s", s, readFile(t, slurm.Path(runDir, "merge.log")))
		}
		got := readFile(t, filepath.Join(runDir, "results.parquet"))
		if !bytes.Equal(got, want) {
			t.Fatalf("merged results.parquet (%d bytes) differs from the single run's (%d bytes)", len(got), len(want))
		}
		st := mustRun(t, bin, "status", runDir)
		if !strings.Contains(st, "units          80: 80 done, 0 running, 0 pending, 0 failed") {
			t.Errorf("status:\n%s", st)
		}
	})

	t.Run("kill and resume", func(t *testing.T) {
		runDir := filepath.Join(dir, "killed")
		mustRun(t, bin, "submit", "--slurm", "--shards", "4", "--cpus-per-task", "1", study, "--output", runDir)
		// Freeze shard 2 as soon as it runs, then let it on a millisecond at a time until it has
		// committed a unit, so that the scheduler kills it part-way (scancel sends SIGCONT and
		// SIGTERM, then SIGKILL). Its units are small enough that, left running while the test
		// polls, it commits nearly all of them before it is stopped.
		var pid int
		deadline := time.Now().Add(45 * time.Second)
		for ; time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if pid == 0 {
				if pid = shardProcess(runDir, "2/4"); pid == 0 {
					continue
				}
				if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
					t.Fatalf("stop shard 2 (pid %d): %v", pid, err)
				}
			}
			if shardRecords(runDir) > 0 {
				break
			}
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Fatalf("continue shard 2 (pid %d): %v", pid, err)
			}
			time.Sleep(time.Millisecond)
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatalf("stop shard 2 (pid %d): %v", pid, err)
			}
		}
		if pid == 0 || time.Now().After(deadline) {
			t.Fatal("shard 2 never committed a unit")
		}
		committed := shardRecords(runDir)
		rec, err := slurm.ReadRecord(runDir)
		if err != nil {
			t.Fatal(err)
		}
		task := rec.Last().Array + "_2"
		if b, err := exec.Command("scancel", task).CombinedOutput(); err != nil {
			t.Fatalf("scancel %s: %v\n%s", task, err, b)
		}
		// Resume at once: shard 3 may still be queued or running, and the new merge job must
		// wait for it too.
		q := waitTaskEnded(t, runDir, rec.Last().Array, 2, 30*time.Second)
		if committed == 0 || committed >= shardUnits {
			t.Fatalf("shard 2 had committed %d of %d units when stopped: not part-way", committed, shardUnits)
		}
		if _, err := os.Stat(filepath.Join(runDir, "results.parquet")); err == nil {
			t.Fatal("results.parquet exists although shard 2 was cancelled")
		}
		if s := mergeState(t, runDir, q); s == "COMPLETED" {
			t.Fatal("the merge job ran although shard 2 was cancelled")
		}
		t.Logf("shard 2 was stopped after %d of its %d units", committed, shardUnits)
		// What the killed task left: every visible part file is named by a record, and merge
		// refuses the incomplete run rather than taking a part of it.
		if stray := unrecordedParts(t, runDir); len(stray) > 0 {
			t.Errorf("part files no record names: %v", stray)
		}
		if out, code := run(t, bin, "merge", study, "--output", runDir); code == 0 || !strings.Contains(out, "of 16 units") {
			t.Errorf("merge of the incomplete run: exit %d\n%s", code, out)
		}
		st := mustRun(t, bin, "status", runDir)
		t.Logf("status after the kill:\n%s", st)
		row := regexp.MustCompile(`(?m)^2 +20 +(\d+) +failed +` + regexp.QuoteMeta(task) + ` +CANCELLED`).FindStringSubmatch(st)
		if row == nil {
			t.Fatalf("status does not show shard 2 failed (cancelled):\n%s", st)
		}
		if done, _ := strconv.Atoi(row[1]); done >= shardUnits {
			t.Fatalf("status: shard 2 has %d units done", done)
		}
		out := mustRun(t, bin, "submit", "--resume", runDir)
		if !strings.Contains(out, "for shards 2 of 4") {
			t.Fatalf("resume printed:\n%s", out)
		}
		t.Logf("resume:\n%s", out)
		q = waitSettled(t, runDir, 60*time.Second)
		if s := mergeState(t, runDir, q); s != "COMPLETED" {
			t.Fatalf("merge job after resume: %s; log:\n%s", s, readFile(t, slurm.Path(runDir, "merge.log")))
		}
		got := readFile(t, filepath.Join(runDir, "results.parquet"))
		if !bytes.Equal(got, want) {
			t.Fatalf("results.parquet after kill and resume (%d bytes) differs from the single run's (%d bytes)", len(got), len(want))
		}
		again := mustRun(t, bin, "submit", "--resume", runDir)
		if !strings.Contains(again, "nothing to submit") {
			t.Errorf("a second resume printed:\n%s", again)
		}
	})
}

// TestSubmitK8sWritesJobsForTheStudy checks the Jobs `submit --k8s` writes for a study: they
// decode strictly as batch/v1 Jobs that run this study's shards and merge.
func TestSubmitK8sWritesJobsForTheStudy(t *testing.T) {
	bin := vistudyBin(t)
	dir := t.TempDir()
	study := zooStudy(t, dir)
	runDir := filepath.Join(dir, "run")
	out := mustRun(t, bin, "submit", "--k8s", "--image", "lab/vistudy:1", "--pvc", "studies", "--mount-path", "/data",
		"--study-path", "/data/scale/study.yaml", "--shards", "6", "--gpus-per-task", "1", "--set", "seed=9", study, "--output", runDir)
	if !strings.Contains(out, "kubectl apply -f "+filepath.Join(runDir, "k8s", "shards.yaml")) {
		t.Errorf("submit --k8s printed:\n%s", out)
	}
	scheme := runtime.NewScheme()
	if err := batchv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	jobs := map[string]*batchv1.Job{}
	for _, f := range []string{"shards.yaml", "merge.yaml"} {
		obj, _, err := dec.Decode(readFile(t, filepath.Join(runDir, "k8s", f)), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		jobs[f] = obj.(*batchv1.Job)
	}
	sj, mj := jobs["shards.yaml"], jobs["merge.yaml"]
	if *sj.Spec.CompletionMode != batchv1.IndexedCompletion || *sj.Spec.Completions != 6 {
		t.Errorf("shards job: mode %v completions %d", *sj.Spec.CompletionMode, *sj.Spec.Completions)
	}
	wantArgs := []string{"run", "--shard=$(JOB_COMPLETION_INDEX)/6", "--set", "seed=9", "--set", "output=" + runDir, "/data/scale/study.yaml"}
	if got := sj.Spec.Template.Spec.Containers[0].Args; strings.Join(got, " ") != strings.Join(wantArgs, " ") {
		t.Errorf("shard args %q, want %q", got, wantArgs)
	}
	if got := mj.Spec.Template.Spec.Containers[0].Args; got[0] != "merge" || got[len(got)-1] != "/data/scale/study.yaml" {
		t.Errorf("merge args %q", got)
	}
	if gpu := sj.Spec.Template.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"]; gpu.Value() != 1 {
		t.Errorf("gpu limit %s", gpu.String())
	}
	if c := sj.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim; c == nil || c.ClaimName != "studies" {
		t.Errorf("volume %+v", sj.Spec.Template.Spec.Volumes)
	}
}

// TestPlanEstimate checks `plan --estimate` against the study's counts: 128 images in units of
// 8 are 16 units for each of images, preds × 2 and acc × 2.
func TestPlanEstimate(t *testing.T) {
	bin := vistudyBin(t)
	study := zooStudy(t, t.TempDir())
	out := mustRun(t, bin, "plan", "--estimate", "--tasks", "4", "--model-load", "1s", study)
	for _, want := range []string{
		// part files: preds and acc (accuracy saves its per-sample ranks) × 2 models × 16 units
		"units        80 ", "part files   64\n", "inferences   256 ", "tasks        4 (at most 16 get work",
		"task length  2s ", // 256/1000 + 128/800 decodes = 0.42 s of work over 4 tasks, plus 2 model loads of 1 s
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan --estimate lacks %q:\n%s", want, out)
		}
	}
}
