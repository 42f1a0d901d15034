package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vistudy/vistudy/internal/testenv"
)

// studyYAML is the benchmarked study: SqueezeNet 1.1 fp16 over a dataset, load → infer → accuracy.
// threads 0 leaves the runtime's default intra-op threads (as `vistudy run` does).
func studyYAML(b *testing.B, dataset string, threads int) string {
	model := testenv.SharedData(b, "models", "squeezenet1.1-fp16", "model.onnx")
	rt := ""
	if threads > 0 {
		rt = fmt.Sprintf("runtime: {threads: %d}\n", threads)
	}
	return fmt.Sprintf(`name: bench
execution: {batch_size: %d, unit_size: 256}
%smodels:
  squeezenet:
    path: %s
    input: {resize: 256, size: 224, channels: BGR, scale: 255, mean: [103.939, 116.779, 123.68]}
    output: logits
    output_tensor: pool10_1
datasets:
  %s
stages:
  - id: images
    load: {dataset: sample}
  - id: preds
    infer: {input: images}
  - id: acc
    measure: {input: preds, metric: accuracy}
`, batchSize, rt, model, dataset)
}

// runMeasure is what one `vistudy run` cost: wall time, CPU time of the whole process tree
// (vistudy and every plugin it waited for), the largest single process's peak RSS (getrusage)
// and the peak of the tree's summed RSS (sampled every 10 ms from /proc).
type runMeasure struct {
	wall, cpu        time.Duration
	maxRSS, peakTree int64 // bytes
}

// runStudy runs `vistudy run` on the study text in a fresh output folder; with sample, the
// process tree's resident memory is sampled every 10 ms (peakTree), which costs the run about a
// tenth of a core (reading /proc of every thread): throughput is measured without it.
func runStudy(b *testing.B, dir, tmp, study string, sample bool) runMeasure {
	path := filepath.Join(tmp, "study.yaml")
	if err := os.WriteFile(path, []byte(study), 0o644); err != nil {
		b.Fatal(err)
	}
	out, err := os.MkdirTemp(tmp, "run")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(out)
	var log bytes.Buffer
	cmd := exec.Command(filepath.Join(dir, "vistudy"), "run", path, "--output", out)
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	peak := make(chan int64, 1)
	if sample {
		go func() { peak <- sampleTreeRSS(cmd.Process.Pid, done) }()
	} else {
		peak <- 0
	}
	err = cmd.Wait()
	wall := time.Since(start)
	close(done)
	tree := <-peak
	if err != nil {
		b.Fatalf("vistudy run: %v\n%s", err, log.Bytes())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return runMeasure{wall: wall, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), maxRSS: ru.Maxrss << 10, peakTree: tree}
}

// sampleTreeRSS returns the largest sum of resident memory over pid and its descendants seen
// until done closes.
func sampleTreeRSS(pid int, done <-chan struct{}) int64 {
	var best int64
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		best = max(best, treeRSS(pid))
		select {
		case <-done:
			return best
		case <-t.C:
		}
	}
}

// treeRSS sums VmRSS of pid and its descendants (through /proc/<pid>/task/*/children).
func treeRSS(pid int) int64 {
	total := rssOf(pid)
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(c); err == nil {
				total += treeRSS(n)
			}
		}
	}
	return total
}

func rssOf(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
