package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/scaleout"
	"github.com/vistudy/vistudy/scaleout/k8s"
	"github.com/vistudy/vistudy/scaleout/slurm"
)

func init() {
	extraCommands = append(extraCommands, newSubmitCmd, newStatusCmd)
}

// taskTarget is the task length the default shard count aims at.
const taskTarget = 4 * time.Hour

func newSubmitCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "submit [study.yaml]",
		Short: "Run a study's shards on a cluster: a Slurm job array (--slurm) or a Kubernetes Indexed Job (--k8s), then merge them",
		Long: `submit --slurm writes <run dir>/slurm/shards.sbatch and merge.sbatch and submits them: a job array
whose task i runs "vistudy run --shard i/N" on the shared run directory, and a merge job that starts
once every task succeeded (--dependency=afterok). submit --resume RUN_DIR submits again the shards
with units missing whose tasks are no longer queued, and a new merge job.
submit --k8s writes <run dir>/k8s/shards.yaml (an Indexed Job) and merge.yaml for a shared
PersistentVolumeClaim, and prints the kubectl commands that run them.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			resume, _ := f.GetString("resume")
			useSlurm, _ := f.GetBool("slurm")
			useK8s, _ := f.GetBool("k8s")
			switch {
			case resume != "":
				if useK8s || len(args) > 0 {
					return usageError{errors.New("--resume RUN_DIR takes no study and works with Slurm submissions only")}
				}
				return resumeSlurm(cmd, v, resume)
			case useSlurm == useK8s:
				return usageError{errors.New("choose one scheduler: --slurm or --k8s")}
			}
			p, err := prepare(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			shards, _ := f.GetInt("shards")
			if shards <= 0 {
				if shards, err = defaultShards(p.plan); err != nil {
					return err
				}
			}
			if _, err := pipeline.OpenRunDir(p.study, p.overrides); err != nil {
				return err
			}
			if useK8s {
				return submitK8s(cmd, p, shards)
			}
			return submitSlurm(cmd, v, p, shards)
		},
	}
	studyFlags(cmd)
	f := cmd.Flags()
	f.Bool("slurm", false, "submit a Slurm job array and a merge job (sbatch must be on PATH)")
	f.Bool("k8s", false, "write a Kubernetes Indexed Job and a merge Job")
	f.String("resume", "", "run directory of a Slurm submission: submit the shards with missing units again, then merge")
	f.Int("shards", 0, "number of shards, one task each (default: enough for tasks of about 4 h by `vistudy plan --estimate`)")
	f.Int("cpus-per-task", 0, "CPUs per task (default: runtime.threads × models evaluated at once, or 4 when threads is 0)")
	f.Int("gpus-per-task", -1, "GPUs per shard task (default: 1 when a model runs on cuda or tensorrt, else 0)")
	f.StringArray("sbatch-arg", nil, "extra sbatch option for every job, e.g. --sbatch-arg=--partition=gpu --sbatch-arg=--time=6:00:00 (repeatable)")
	f.String("vistudy", "", "the vistudy binary the tasks run, on the shared file system (default: this one)")
	f.Bool("dry-run", false, "write the scripts or manifests without submitting")
	f.String("image", "", "k8s: container image holding vistudy, its plugins and ONNX Runtime")
	f.String("pvc", "", "k8s: PersistentVolumeClaim holding the study, its data and its run directory")
	f.String("mount-path", "/study", "k8s: where the claim is mounted in the containers")
	f.String("study-path", "", "k8s: the study file as the containers see it (default: <mount-path>/<study file name>)")
	f.Int("parallelism", 0, "k8s: pods at once (default: every shard)")
	f.String("memory", "", "k8s: memory request and limit per pod, e.g. 32Gi")
	f.String("namespace", "", "k8s: namespace of the Jobs")
	f.StringArray("env", nil, "k8s: KEY=VALUE set in the containers, e.g. ONNXRUNTIME_LIB=/opt/ort/libonnxruntime.so.1 (repeatable)")
	return cmd
}

// defaultShards is the task count of the study's estimate with the default rates.
func defaultShards(plan *pipeline.Plan) (int, error) {
	w, err := scaleout.WorkloadOf(plan)
	if err != nil {
		return 0, err
	}
	return scaleout.EstimateWorkload(w, scaleout.DefaultRates, 0, taskTarget).Tasks, nil
}

// taskResources are the CPUs and GPUs of a shard task, from the flags or the study.
func taskResources(cmd *cobra.Command, s *pipeline.Study) (cpus, gpus int) {
	cpus, _ = cmd.Flags().GetInt("cpus-per-task")
	gpus, _ = cmd.Flags().GetInt("gpus-per-task")
	if cpus <= 0 {
		threads := s.Runtime.Threads
		for _, m := range s.Models {
			threads = max(threads, m.Runtime.Threads)
		}
		cpus = 4
		if threads > 0 {
			cpus = threads * max(1, min(s.Execution.ParallelModels, len(s.Models)))
		}
	}
	if gpus < 0 {
		gpus = 0
		for _, m := range s.Models {
			if slices.ContainsFunc(m.Runtime.Providers, func(p string) bool { return p == "cuda" || p == "tensorrt" }) {
				gpus = 1
			}
		}
	}
	return cpus, gpus
}

// sets turns the study's overrides into --set arguments, and names the environment variables
// some came from (the tasks get them as --set instead, so the run's fingerprint is the same).
func sets(ovs []pipeline.Override) (sets, unset []string) {
	for _, o := range ovs {
		sets = append(sets, o.Key+"="+o.Value)
		if name, ok := strings.CutPrefix(o.Source, "environment "); ok {
			unset = append(unset, name)
		}
	}
	return sets, unset
}

// overridesOf reads --set arguments back.
func overridesOf(sets []string) []pipeline.Override {
	out := make([]pipeline.Override, len(sets))
	for i, s := range sets {
		k, val, _ := strings.Cut(s, "=")
		out[i] = pipeline.Override{Key: k, Value: val, Source: "flag --set " + s}
	}
	return out
}

// extraArgs are the global flags the tasks must see as this command did.
func extraArgs(v *viper.Viper) []string {
	var out []string
	if p := v.GetString("plugins"); p != "" {
		out = append(out, "--plugins", p)
	}
	if l := v.GetString("log-level"); l != "" && l != "info" {
		out = append(out, "--log-level", l)
	}
	return out
}

// vistudyPath is the binary the tasks run.
func vistudyPath(cmd *cobra.Command) (string, error) {
	if p, _ := cmd.Flags().GetString("vistudy"); p != "" {
		return filepath.Abs(p)
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("submit: locate vistudy: %w", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return exe, nil
}

func submitSlurm(cmd *cobra.Command, v *viper.Viper, p *prepared, shards int) error {
	s := p.study
	if rec, err := slurm.ReadRecord(s.Output); err == nil && len(rec.Submissions) > 0 {
		return usageError{fmt.Errorf("%s was submitted before (array job %s): run `vistudy submit --resume %s`, or choose another --output", s.Output, rec.Last().Array, s.Output)}
	}
	exe, err := vistudyPath(cmd)
	if err != nil {
		return err
	}
	cpus, gpus := taskResources(cmd, s)
	sbatchArgs, _ := cmd.Flags().GetStringArray("sbatch-arg")
	set, unset := sets(p.overrides)
	var env []string
	if lib := os.Getenv("ONNXRUNTIME_LIB"); lib != "" {
		env = append(env, "ONNXRUNTIME_LIB="+lib)
	}
	rec := &slurm.Record{Job: slurm.Job{
		Name: "vistudy-" + s.Name, RunDir: s.Output, Vistudy: exe, Study: s.File, Sets: set, Extra: extraArgs(v),
		Unset: unset, Env: env, Shards: shards, CPUsPerTask: cpus, GPUsPerTask: gpus, SbatchArgs: sbatchArgs,
	}}
	out := cmd.OutOrStdout()
	if dry, _ := cmd.Flags().GetBool("dry-run"); dry {
		if err := slurm.WriteScripts(rec.Job); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s and %s (not submitted)\n", slurm.Path(s.Output, slurm.ArrayScript), slurm.Path(s.Output, slurm.MergeScript))
		return nil
	}
	tasks := make([]int, shards)
	for i := range tasks {
		tasks[i] = i
	}
	sub, err := slurm.Submit(cmd.Context(), rec, tasks, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "submitted array job %s (%d shards, %d CPUs and %d GPUs each) and merge job %s (afterok)\n", sub.Array, shards, cpus, gpus, sub.Merge)
	fmt.Fprintf(out, "follow it with: vistudy status %s\n", s.Output)
	return nil
}

// resumeSlurm submits again the shards of a run directory whose tasks ended with units missing.
func resumeSlurm(cmd *cobra.Command, v *viper.Viper, runDir string) error {
	ctx := cmd.Context()
	runDir, err := filepath.Abs(runDir)
	if err != nil {
		return err
	}
	rec, err := slurm.ReadRecord(runDir)
	if errors.Is(err, os.ErrNotExist) {
		return usageError{fmt.Errorf("%s: %w", runDir, slurm.ErrNoRecord)}
	}
	if err != nil {
		return err
	}
	st, queue, err := slurmStatus(ctx, v, rec)
	if err != nil {
		return err
	}
	tasks := slurm.Resubmit(st)
	// The new merge job also waits for tasks of earlier submissions still queued or running.
	var after []string
	for _, s := range st {
		if s.State == slurm.StateRunning || s.State == slurm.StatePending {
			after = append(after, s.Job)
		}
	}
	out := cmd.OutOrStdout()
	merge := slurm.TaskState{}
	if last := rec.Last(); last != nil {
		for _, q := range queue {
			if q.Job == last.Merge {
				merge = q
			}
		}
	}
	if len(tasks) == 0 {
		if merge.Active() {
			fmt.Fprintf(out, "no shard needs submitting; merge job %s is %s\n", merge.Job, merge.State)
			return nil
		}
		if _, err := os.Stat(filepath.Join(runDir, pipeline.ResultsFile)); err == nil && len(after) == 0 {
			fmt.Fprintf(out, "every shard is done and %s exists: nothing to submit\n", pipeline.ResultsFile)
			return nil
		}
	} else if merge.Active() {
		// It waits for tasks that failed (Slurm cancels it then): the new merge job replaces it.
		if err := slurm.Cancel(ctx, merge.Job); err != nil {
			return err
		}
		fmt.Fprintf(out, "cancelled merge job %s (%s)\n", merge.Job, merge.State)
	}
	sub, err := slurm.Submit(ctx, rec, tasks, after)
	if err != nil {
		return err
	}
	if len(tasks) > 0 {
		fmt.Fprintf(out, "submitted array job %s for shards %s of %d\n", sub.Array, slurm.ArraySpec(tasks), rec.Job.Shards)
	}
	fmt.Fprintf(out, "submitted merge job %s\n", sub.Merge)
	return nil
}

func submitK8s(cmd *cobra.Command, p *prepared, shards int) error {
	f := cmd.Flags()
	s := p.study
	image, _ := f.GetString("image")
	pvc, _ := f.GetString("pvc")
	if image == "" || pvc == "" {
		return usageError{errors.New("--k8s needs --image (vistudy's container image) and --pvc (the claim holding the study and its run directory)")}
	}
	mount, _ := f.GetString("mount-path")
	studyPath, _ := f.GetString("study-path")
	if studyPath == "" {
		studyPath = filepath.Join(mount, filepath.Base(s.File))
	}
	par, _ := f.GetInt("parallelism")
	mem, _ := f.GetString("memory")
	ns, _ := f.GetString("namespace")
	env, _ := f.GetStringArray("env")
	cpus, gpus := taskResources(cmd, s)
	set, _ := sets(p.overrides)
	var args []string
	for _, a := range set {
		args = append(args, "--set", a)
	}
	spec := k8s.Spec{Name: k8s.Name(s.Name), Namespace: ns, Image: image, Study: studyPath, Args: args, Env: env,
		Claim: pvc, MountPath: mount, Shards: shards, Parallelism: par, CPUs: cpus, GPUs: gpus, Memory: mem, BackoffPerIndex: 2}
	shardsJob, err := k8s.ShardsJob(spec)
	if err != nil {
		return err
	}
	mergeJob, err := k8s.MergeJob(spec)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.Output, k8s.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("submit --k8s: %w", err)
	}
	for name, job := range map[string]any{k8s.ShardsFile: shardsJob, k8s.MergeFile: mergeJob} {
		y, err := k8s.YAML(job)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), y, 0o644); err != nil {
			return fmt.Errorf("submit --k8s: %w", err)
		}
	}
	nsArg := ""
	if ns != "" {
		nsArg = " -n " + ns
	}
	fmt.Fprintf(cmd.OutOrStdout(), `wrote %[1]s/%[2]s (Indexed Job %[4]s, %[5]d shards) and %[1]s/%[3]s; run them with:
  kubectl%[6]s apply -f %[1]s/%[2]s
  kubectl%[6]s wait --for=condition=complete --timeout=48h job/%[4]s
  kubectl%[6]s apply -f %[1]s/%[3]s
`, dir, k8s.ShardsFile, k8s.MergeFile, shardsJob.Name, shards, nsArg)
	return nil
}

// planOf plans the study of a submission as its tasks see it.
func planOf(ctx context.Context, v *viper.Viper, study string, ovs []pipeline.Override) (*pipeline.Plan, error) {
	s, err := pipeline.LoadStudy(study, ovs)
	if err != nil {
		return nil, err
	}
	cat, err := catalog(ctx, v, s)
	if err != nil {
		return nil, err
	}
	if err := pipeline.Validate(s, cat); err != nil {
		return nil, err
	}
	return pipeline.NewPlan(s, cat)
}
