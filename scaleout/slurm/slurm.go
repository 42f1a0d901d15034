// Package slurm runs a study's shards as a Slurm job array: it writes the sbatch scripts into the
// run directory, submits the array and a merge job that waits for it (afterok), records the
// submissions, and reads the queue for `vistudy status`.
package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dir is the folder of the run directory that holds the scripts, logs and records of submissions.
const Dir = "slurm"

// Files below Dir.
const (
	ArrayScript = "shards.sbatch" // the job array: task i runs shard i
	MergeScript = "merge.sbatch"  // the merge job
	RecordFile  = "submit.json"   // every submission, for status and resume
)

// Job is what a submission runs: `vistudy run --shard i/Shards` per task, then `vistudy merge`.
type Job struct {
	Name        string   `json:"name"`             // job name (vistudy-<study name>)
	RunDir      string   `json:"run_dir"`          // the shared run directory
	Vistudy     string   `json:"vistudy"`          // absolute path of the vistudy binary on the cluster's shared file system
	Study       string   `json:"study"`            // absolute path of the study file
	Sets        []string `json:"sets,omitempty"`   // study overrides key=value, in order (passed as --set: they are part of the run's fingerprint)
	Extra       []string `json:"extra,omitempty"`  // further arguments of run and merge (--plugins DIRS, --log-level debug)
	Unset       []string `json:"unset,omitempty"`  // environment variables the tasks must not see (their overrides are in Sets)
	Env         []string `json:"env,omitempty"`    // KEY=VALUE exported by the scripts (ONNXRUNTIME_LIB, ...)
	Shards      int      `json:"shards"`           // N of --shard i/N
	CPUsPerTask int      `json:"cpus_per_task"`    // --cpus-per-task of every task
	GPUsPerTask int      `json:"gpus_per_task"`    // --gres=gpu:G of every array task (0: none)
	SbatchArgs  []string `json:"sbatch,omitempty"` // further sbatch options for both scripts (--partition=gpu, --time=4:00:00)
}

// Args are the arguments of run and merge between the command and the study file.
func (j Job) Args() []string {
	var out []string
	for _, s := range j.Sets {
		out = append(out, "--set", s)
	}
	return append(out, j.Extra...)
}

// Submission is one sbatch of the array and its merge job.
type Submission struct {
	Array string    `json:"array"` // job id of the array
	Tasks []int     `json:"tasks"` // the shards it runs
	Merge string    `json:"merge"` // job id of the merge job
	Time  time.Time `json:"time"`
}

// Record is what RecordFile holds: the job and every submission of it, oldest first.
type Record struct {
	Job         Job          `json:"job"`
	Submissions []Submission `json:"submissions"`
}

// Path is a file of the run directory's Dir.
func Path(runDir, name string) string { return filepath.Join(runDir, Dir, name) }

// ShardLog is the log file of shard i (every submission appends to it).
func ShardLog(runDir string, i int) string { return Path(runDir, fmt.Sprintf("shard-%d.log", i)) }

// DoneMarker is the file a task creates when `vistudy run --shard i/n` succeeded.
func DoneMarker(runDir string, i, n int) string {
	return Path(runDir, fmt.Sprintf("done-%d-of-%d", i, n))
}

// ReadRecord reads the run directory's record; os.ErrNotExist when nothing was submitted.
func ReadRecord(runDir string) (*Record, error) {
	b, err := os.ReadFile(Path(runDir, RecordFile))
	if err != nil {
		return nil, fmt.Errorf("read slurm record of %s: %w", runDir, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read slurm record of %s: %w", runDir, err)
	}
	return &r, nil
}

// Write stores the record atomically.
func (r *Record) Write() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write slurm record: %w", err)
	}
	return writeAtomic(Path(r.Job.RunDir, RecordFile), b, 0o644)
}

// Last is the newest submission, or nil.
func (r *Record) Last() *Submission {
	if len(r.Submissions) == 0 {
		return nil
	}
	return &r.Submissions[len(r.Submissions)-1]
}

// writeAtomic writes data beside path and renames it into place.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// quote makes s one word of a POSIX shell.
func quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func quoteAll(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = quote(a)
	}
	return strings.Join(out, " ")
}

// header writes the #SBATCH lines common to both scripts and the environment lines.
func (j Job) header(b *bytes.Buffer, what, output string, cpus, gpus int) {
	fmt.Fprintf(b, "#!/bin/bash\n# %s of study %s, written by `vistudy submit --slurm`.\n", what, j.Study)
	fmt.Fprintf(b, "#SBATCH --job-name=%s\n", quote(j.Name))
	fmt.Fprintf(b, "#SBATCH --output=%s\n", quote(output))
	b.WriteString("#SBATCH --open-mode=append\n")
	b.WriteString("#SBATCH --ntasks=1\n")
	fmt.Fprintf(b, "#SBATCH --cpus-per-task=%d\n", max(cpus, 1))
	if gpus > 0 {
		fmt.Fprintf(b, "#SBATCH --gres=gpu:%d\n", gpus)
	}
	for _, a := range j.SbatchArgs {
		fmt.Fprintf(b, "#SBATCH %s\n", a)
	}
	b.WriteString("set -u\n")
	for _, v := range j.Unset {
		fmt.Fprintf(b, "unset %s\n", quote(v))
	}
	for _, kv := range j.Env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(b, "export %s=%s\n", k, quote(v))
	}
}

// ArrayScriptText is the sbatch script of the job array: task i runs shard i of Shards and
// marks it done on success.
func (j Job) ArrayScriptText() string {
	var b bytes.Buffer
	j.header(&b, fmt.Sprintf("Shards i/%d (i = array task id)", j.Shards), filepath.Join(j.RunDir, Dir, "shard-%a.log"), j.CPUsPerTask, j.GPUsPerTask)
	n := strconv.Itoa(j.Shards)
	fmt.Fprintf(&b, "shard=\"${SLURM_ARRAY_TASK_ID:?submit this script as a job array}\"\n")
	fmt.Fprintf(&b, "echo \"vistudy: shard $shard/%s, job ${SLURM_ARRAY_JOB_ID:-?}_$shard on $(hostname), $(date -u +%%FT%%TZ)\"\n", n)
	fmt.Fprintf(&b, "%s run --shard \"$shard/%s\" %s\n", quote(j.Vistudy), n, quoteAll(append(j.Args(), j.Study)))
	b.WriteString("rc=$?\n")
	fmt.Fprintf(&b, "if [ \"$rc\" -eq 0 ]; then : > %s\"/done-$shard-of-%s\"; fi\n", quote(filepath.Join(j.RunDir, Dir)), n)
	fmt.Fprintf(&b, "echo \"vistudy: shard $shard/%s exited $rc, $(date -u +%%FT%%TZ)\"\n", n)
	b.WriteString("exit \"$rc\"\n")
	return b.String()
}

// MergeScriptText is the sbatch script of the merge job.
func (j Job) MergeScriptText() string {
	var b bytes.Buffer
	j.header(&b, "Merge of the shards", filepath.Join(j.RunDir, Dir, "merge.log"), j.CPUsPerTask, 0)
	b.WriteString("echo \"vistudy: merge on $(hostname), $(date -u +%FT%TZ)\"\n")
	fmt.Fprintf(&b, "exec %s merge %s\n", quote(j.Vistudy), quoteAll(append(j.Args(), j.Study)))
	return b.String()
}

// ArraySpec renders task ids as sbatch's --array list: 0-3 or 1,4-6.
func ArraySpec(tasks []int) string {
	t := slices.Clone(tasks)
	slices.Sort(t)
	t = slices.Compact(t)
	var parts []string
	for i := 0; i < len(t); {
		k := i
		for k+1 < len(t) && t[k+1] == t[k]+1 {
			k++
		}
		if k == i {
			parts = append(parts, strconv.Itoa(t[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", t[i], t[k]))
		}
		i = k + 1
	}
	return strings.Join(parts, ",")
}

// WriteScripts writes the array and merge scripts into the run directory.
func WriteScripts(j Job) error {
	if err := writeAtomic(Path(j.RunDir, ArrayScript), []byte(j.ArrayScriptText()), 0o755); err != nil {
		return err
	}
	return writeAtomic(Path(j.RunDir, MergeScript), []byte(j.MergeScriptText()), 0o755)
}

// Submit writes the scripts into the run directory and submits the array of tasks (shards) and
// a merge job that starts once every task, and every job or task in after, succeeded; with no
// tasks, only the merge job. The submission is appended to the record.
func Submit(ctx context.Context, rec *Record, tasks []int, after []string) (*Submission, error) {
	j := rec.Job
	if err := WriteScripts(j); err != nil {
		return nil, err
	}
	sub := &Submission{Tasks: slices.Clone(tasks), Time: time.Now().UTC()}
	deps := slices.Clone(after)
	if len(tasks) > 0 {
		id, err := sbatch(ctx, "--array="+ArraySpec(tasks), Path(j.RunDir, ArrayScript))
		if err != nil {
			return nil, err
		}
		sub.Array = id
		deps = append(deps, id)
	}
	var mergeArgs []string
	if len(deps) > 0 {
		// A failed task would leave the merge job pending for ever: have Slurm cancel it instead.
		mergeArgs = append(mergeArgs, "--dependency=afterok:"+strings.Join(deps, ":"), "--kill-on-invalid-dep=yes")
	}
	id, err := sbatch(ctx, append(mergeArgs, Path(j.RunDir, MergeScript))...)
	if err != nil {
		if sub.Array != "" {
			_ = Cancel(ctx, sub.Array) // do not leave an array without its merge job
		}
		return nil, err
	}
	sub.Merge = id
	rec.Submissions = append(rec.Submissions, *sub)
	if err := rec.Write(); err != nil {
		return nil, err
	}
	return sub, nil
}

// sbatch submits and returns the job id (--parsable prints "id" or "id;cluster").
func sbatch(ctx context.Context, args ...string) (string, error) {
	out, err := command(ctx, "sbatch", append([]string{"--parsable"}, args...)...)
	if err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch %s: unexpected output %q", strings.Join(args, " "), out)
	}
	return id, nil
}

// Cancel cancels jobs (or array tasks: 12_3).
func Cancel(ctx context.Context, ids ...string) error {
	_, err := command(ctx, "scancel", ids...)
	return err
}

// command runs a Slurm client and returns its standard output.
func command(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Available reports whether the Slurm clients are installed.
func Available() bool {
	_, err := exec.LookPath("squeue")
	return err == nil
}

// TaskState is where the queue has one job or array task.
type TaskState struct {
	Job   string // the job id (of the array, for a task)
	Task  int    // array task id, -1 for a job that is not an array
	State string // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
}

// Active reports whether the task is queued or running.
func (t TaskState) Active() bool {
	switch t.State {
	case "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED", "STAGE_OUT":
		return true
	}
	return false
}

// Queue returns the states squeue knows of the jobs (and their array tasks), recently finished
// ones included.
func Queue(ctx context.Context, jobs ...string) ([]TaskState, error) {
	out, err := command(ctx, "squeue", "--me", "--noheader", "--array", "--states=all", "--format=%F|%K|%T|%i")
	if err != nil {
		return nil, err
	}
	return parseQueue(out, jobs), nil
}

// parseQueue reads squeue lines "arrayjob|task|state|id" of the wanted jobs.
func parseQueue(out string, jobs []string) []TaskState {
	var states []TaskState
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) != 4 {
			continue
		}
		job := f[0]
		if !slices.Contains(jobs, job) {
			continue
		}
		task, err := strconv.Atoi(f[1])
		if err != nil {
			task = -1 // N/A: not an array
		}
		states = append(states, TaskState{Job: job, Task: task, State: f[2]})
	}
	return states
}

// ErrNoRecord is returned by status and resume for a run directory nothing was submitted from.
var ErrNoRecord = errors.New("no Slurm submission recorded (run `vistudy submit --slurm` first)")
