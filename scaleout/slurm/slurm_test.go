package slurm

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/scaleout"
)

func TestArraySpec(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{[]int{0, 1, 2, 3}, "0-3"},
		{[]int{2}, "2"},
		{[]int{5, 1, 4, 6, 1}, "1,4-6"},
		{[]int{0, 2, 4}, "0,2,4"},
		{nil, ""},
	} {
		if got := ArraySpec(tc.in); got != tc.want {
			t.Errorf("ArraySpec(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseQueue(t *testing.T) {
	out := "12|0|COMPLETED|12_0\n12|2|CANCELLED|12_2\n12|3|RUNNING|12_3\n13|N/A|PENDING|13\n99|1|RUNNING|99_1\n\n"
	got := parseQueue(out, []string{"12", "13"})
	want := []TaskState{{"12", 0, "COMPLETED"}, {"12", 2, "CANCELLED"}, {"12", 3, "RUNNING"}, {"13", -1, "PENDING"}}
	if !slices.Equal(got, want) {
		t.Fatalf("parseQueue = %+v, want %+v", got, want)
	}
	if got[0].Active() || got[1].Active() || !got[2].Active() || !got[3].Active() {
		t.Errorf("Active: %v %v %v %v", got[0].Active(), got[1].Active(), got[2].Active(), got[3].Active())
	}
}

// TestArrayScriptRunsTheShardAndMarksSuccess runs the written script with bash, as Slurm would,
// with a stand-in for vistudy that records its arguments: every argument arrives intact
// (spaces, quotes, $), overrides from the environment are unset, and the done marker appears
// only when the run succeeded.
func TestArrayScriptRunsTheShardAndMarksSuccess(t *testing.T) {
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run dir")
	argsFile := filepath.Join(dir, "args")
	bin := filepath.Join(dir, "vistudy")
	stand := "#!/bin/bash\nprintf '%s\\0' \"$@\" > " + quote(argsFile) + "\necho \"VISTUDY_SEED=${VISTUDY_SEED-unset} LIB=$ONNXRUNTIME_LIB\" >> " + quote(argsFile) + "\nexit \"${STAND_IN_EXIT:-0}\"\n"
	if err := os.WriteFile(bin, []byte(stand), 0o755); err != nil {
		t.Fatal(err)
	}
	j := Job{Name: "vistudy-x", RunDir: runDir, Vistudy: bin, Study: filepath.Join(dir, "my study.yaml"),
		Sets: []string{"seed=4", `datasets.a.path=/data/it's here`, "name=$HOME"}, Extra: []string{"--plugins", "/opt/p"},
		Unset: []string{"VISTUDY_SEED"}, Env: []string{"ONNXRUNTIME_LIB=/opt/ort lib/libonnxruntime.so.1"},
		Shards: 4, CPUsPerTask: 3, GPUsPerTask: 1, SbatchArgs: []string{"--partition=gpu", "--time=2:00:00"}}
	if err := WriteScripts(j); err != nil {
		t.Fatal(err)
	}
	script := Path(runDir, ArrayScript)
	text := string(readFile(t, script))
	for _, want := range []string{"#SBATCH --cpus-per-task=3\n", "#SBATCH --gres=gpu:1\n", "#SBATCH --partition=gpu\n",
		"#SBATCH --time=2:00:00\n", "#SBATCH --output='" + runDir + "/slurm/shard-%a.log'\n", "#SBATCH --open-mode=append\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("array script lacks %q:\n%s", want, text)
		}
	}
	if merge := string(readFile(t, Path(runDir, MergeScript))); strings.Contains(merge, "--gres") || !strings.Contains(merge, " merge ") {
		t.Errorf("merge script:\n%s", merge)
	}
	for _, tc := range []struct {
		exit     string
		wantDone bool
	}{{"1", false}, {"0", true}} {
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_JOB_ID=77", "VISTUDY_SEED=9", "STAND_IN_EXIT="+tc.exit)
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.wantDone {
			t.Fatalf("exit %s: script error %v\n%s", tc.exit, err, out)
		}
		b := readFile(t, argsFile)
		args, env, _ := strings.Cut(string(b), "VISTUDY_SEED=")
		gotArgs := strings.Split(strings.TrimSuffix(args, "\x00"), "\x00")
		wantArgs := []string{"run", "--shard", "2/4", "--set", "seed=4", "--set", `datasets.a.path=/data/it's here`,
			"--set", "name=$HOME", "--plugins", "/opt/p", j.Study}
		if !slices.Equal(gotArgs, wantArgs) {
			t.Errorf("vistudy got %q, want %q", gotArgs, wantArgs)
		}
		if strings.TrimSpace(env) != "unset LIB=/opt/ort lib/libonnxruntime.so.1" {
			t.Errorf("environment of the task: %q", env)
		}
		_, err = os.Stat(DoneMarker(runDir, 2, 4))
		if (err == nil) != tc.wantDone {
			t.Errorf("exit %s: done marker present = %v", tc.exit, err == nil)
		}
		if !strings.Contains(string(out), "vistudy: shard 2/4 exited "+tc.exit) {
			t.Errorf("script output %q", out)
		}
	}
	if _, err := exec.Command("bash", script).CombinedOutput(); err == nil {
		t.Error("the script ran without SLURM_ARRAY_TASK_ID")
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatus(t *testing.T) {
	dir := t.TempDir()
	rec := &Record{Job: Job{RunDir: dir, Shards: 5}, Submissions: []Submission{
		{Array: "10", Tasks: []int{0, 1, 2, 3}, Merge: "11"},
		{Array: "20", Tasks: []int{2}, Merge: "21"},
	}}
	if err := os.MkdirAll(filepath.Join(dir, Dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ShardLog(dir, 1), []byte("vistudy: shard 1/5\nslurmstepd: error: *** JOB 10_1 CANCELLED ***\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	counts := []scaleout.ShardCount{{Shard: 0, Expected: 8, Done: 8}, {Shard: 1, Expected: 8, Done: 3},
		{Shard: 2, Expected: 8, Done: 5}, {Shard: 3, Expected: 8}, {Shard: 4, Expected: 7}}
	queue := []TaskState{{"10", 0, "COMPLETED"}, {"10", 1, "CANCELLED"}, {"10", 2, "FAILED"}, {"10", 3, "PENDING"},
		{"11", -1, "CANCELLED"}, {"20", 2, "RUNNING"}}
	st := Status(rec, counts, queue)
	want := []struct{ state, job, queue string }{
		{StateDone, "10_0", "COMPLETED"},
		{StateFailed, "10_1", "CANCELLED"},
		{StateRunning, "20_2", "RUNNING"}, // the resubmission is what counts
		{StatePending, "10_3", "PENDING"},
		{StateNotSubmitted, "", ""},
	}
	for i, w := range want {
		if st[i].State != w.state || st[i].Job != w.job || st[i].Queue != w.queue {
			t.Errorf("shard %d: %+v, want %+v", i, st[i], w)
		}
	}
	if st[1].Log != "slurmstepd: error: *** JOB 10_1 CANCELLED ***" {
		t.Errorf("shard 1 log %q", st[1].Log)
	}
	if got := Resubmit(st); !slices.Equal(got, []int{1, 4}) {
		t.Errorf("Resubmit = %v, want [1 4]", got)
	}
	tot := Totals(st)
	if tot[StateDone] != 16 || tot[StateFailed] != 5 || tot[StateRunning] != 3 || tot[StatePending] != 8 || tot[StateNotSubmitted] != 7 {
		t.Errorf("totals %v", tot)
	}
	// Without a census, the done marker of a successful task decides.
	if err := os.WriteFile(DoneMarker(dir, 3, 5), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st = Status(rec, nil, []TaskState{{"10", 3, "COMPLETED"}, {"10", 1, "CANCELLED"}})
	if st[3].State != StateDone || st[1].State != StateFailed || st[0].State != StateFailed {
		t.Errorf("without a census: %v %v %v", st[3].State, st[1].State, st[0].State)
	}
}
