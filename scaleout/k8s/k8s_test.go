package k8s

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/vistudy/vistudy/pipeline"
)

// decodeJobs decodes a YAML stream strictly (unknown or duplicate fields fail) as batch/v1 Jobs.
func decodeJobs(t *testing.T, y []byte) []*batchv1.Job {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := batchv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	var out []*batchv1.Job
	for _, doc := range bytes.Split(y, []byte("\n---\n")) {
		obj, gvk, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decode %s: %v", doc, err)
		}
		if gvk.Kind != "Job" || gvk.Group != "batch" || gvk.Version != "v1" {
			t.Fatalf("decoded %v, want batch/v1 Job", gvk)
		}
		out = append(out, obj.(*batchv1.Job))
	}
	return out
}

// expand does what the kubelet does with $(VAR) in args, for the variables given.
func expand(args []string, vars map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		for k, v := range vars {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		out[i] = a
	}
	return out
}

func TestJobsDecodeAndCoverEveryUnitOnce(t *testing.T) {
	cases := []struct {
		name             string
		shards, par, gpu int
		wantPar          int32
	}{
		{"gpus, throttled", 48, 8, 1, 8},
		{"cpu only, all at once", 4, 0, 0, 4},
		{"parallelism above shards", 3, 10, 2, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Name: Name("ImageNet C sweep"), Image: "registry.example/vistudy:1", Study: "/study/c.yaml",
				Args: []string{"--set", "output=/study/runs/c"}, Env: []string{"ONNXRUNTIME_LIB=/opt/ort/libonnxruntime.so.1"},
				Claim: "lab-data", MountPath: "/study", Shards: tc.shards, Parallelism: tc.par, CPUs: 8, GPUs: tc.gpu,
				Memory: "32Gi", BackoffPerIndex: 2}
			shards, err := ShardsJob(s)
			if err != nil {
				t.Fatal(err)
			}
			merge, err := MergeJob(s)
			if err != nil {
				t.Fatal(err)
			}
			y, err := YAML(shards, merge)
			if err != nil {
				t.Fatal(err)
			}
			jobs := decodeJobs(t, y)
			if len(jobs) != 2 {
				t.Fatalf("%d jobs decoded, want 2", len(jobs))
			}
			sj, mj := jobs[0], jobs[1]
			if sj.Name != "vistudy-imagenet-c-sweep" || mj.Name != "vistudy-imagenet-c-sweep-merge" {
				t.Errorf("names %q, %q", sj.Name, mj.Name)
			}
			if sj.Spec.CompletionMode == nil || *sj.Spec.CompletionMode != batchv1.IndexedCompletion {
				t.Fatalf("completionMode %v, want Indexed", sj.Spec.CompletionMode)
			}
			if *sj.Spec.Completions != int32(tc.shards) || *sj.Spec.Parallelism != tc.wantPar {
				t.Errorf("completions %d parallelism %d, want %d %d", *sj.Spec.Completions, *sj.Spec.Parallelism, tc.shards, tc.wantPar)
			}
			if *sj.Spec.BackoffLimitPerIndex != 2 {
				t.Errorf("backoffLimitPerIndex %d, want 2", *sj.Spec.BackoffLimitPerIndex)
			}
			if mj.Spec.CompletionMode != nil && *mj.Spec.CompletionMode == batchv1.IndexedCompletion {
				t.Error("the merge job is indexed")
			}
			for _, j := range jobs {
				p := j.Spec.Template.Spec
				if p.RestartPolicy != corev1.RestartPolicyNever {
					t.Errorf("%s: restartPolicy %q", j.Name, p.RestartPolicy)
				}
				if len(p.Volumes) != 1 || p.Volumes[0].PersistentVolumeClaim == nil || p.Volumes[0].PersistentVolumeClaim.ClaimName != "lab-data" {
					t.Errorf("%s: volumes %+v, want the claim lab-data", j.Name, p.Volumes)
				}
				c := p.Containers[0]
				if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/study" || c.VolumeMounts[0].Name != p.Volumes[0].Name {
					t.Errorf("%s: mounts %+v", j.Name, c.VolumeMounts)
				}
				if c.Image != s.Image || c.Command[0] != "vistudy" || c.Args[len(c.Args)-1] != "/study/c.yaml" {
					t.Errorf("%s: image %q command %q args %q", j.Name, c.Image, c.Command, c.Args)
				}
				if cpu := c.Resources.Limits[corev1.ResourceCPU]; cpu.Value() != 8 {
					t.Errorf("%s: cpu limit %v", j.Name, cpu.String())
				}
				if mem := c.Resources.Requests[corev1.ResourceMemory]; mem.Value() != 32<<30 {
					t.Errorf("%s: memory request %v", j.Name, mem.String())
				}
			}
			gpu := sj.Spec.Template.Spec.Containers[0].Resources.Limits[GPUResource]
			if gpu.Value() != int64(tc.gpu) {
				t.Errorf("shard gpu limit %v, want %d", gpu.String(), tc.gpu)
			}
			if _, ok := mj.Spec.Template.Spec.Containers[0].Resources.Limits[GPUResource]; ok {
				t.Error("the merge job asks for a GPU")
			}
			c := sj.Spec.Template.Spec.Containers[0]
			var index *corev1.EnvVar
			for i := range c.Env {
				if c.Env[i].Name == CompletionIndexEnv {
					index = &c.Env[i]
				}
			}
			if index == nil || index.ValueFrom == nil || index.ValueFrom.FieldRef == nil ||
				index.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
				t.Fatalf("env %+v: want %s from the completion-index annotation", c.Env, CompletionIndexEnv)
			}
			if c.Args[0] != "run" || mj.Spec.Template.Spec.Containers[0].Args[0] != "merge" {
				t.Errorf("args %q / %q", c.Args, mj.Spec.Template.Spec.Containers[0].Args)
			}
			// Pod i, once the kubelet expands its args, runs shard i/N; together they run each unit once.
			const units = 500
			seen := make([]int, units)
			for i := range tc.shards {
				args := expand(c.Args, map[string]string{CompletionIndexEnv: strconv.Itoa(i)})
				var flag string
				for _, a := range args {
					if v, ok := strings.CutPrefix(a, "--shard="); ok {
						flag = v
					}
				}
				sh, err := pipeline.ParseShard(flag)
				if err != nil {
					t.Fatalf("pod %d: %v", i, err)
				}
				if sh.Index != i || sh.Count != tc.shards {
					t.Fatalf("pod %d runs shard %v", i, sh)
				}
				for k := range units {
					if sh.Has(k) {
						seen[k]++
					}
				}
			}
			for k, n := range seen {
				if n != 1 {
					t.Fatalf("unit %d runs %d times", k, n)
				}
			}
		})
	}
}

func TestSpecRejectsMissingFields(t *testing.T) {
	ok := Spec{Name: "vistudy-x", Image: "img", Study: "/s/x.yaml", Claim: "c", MountPath: "/s", Shards: 2}
	if _, err := ShardsJob(ok); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Spec{
		"no image":   {Name: "vistudy-x", Study: "/s/x.yaml", Claim: "c", MountPath: "/s", Shards: 2},
		"no claim":   {Name: "vistudy-x", Image: "img", Study: "/s/x.yaml", MountPath: "/s", Shards: 2},
		"no shards":  {Name: "vistudy-x", Image: "img", Study: "/s/x.yaml", Claim: "c", MountPath: "/s"},
		"bad memory": {Name: "vistudy-x", Image: "img", Study: "/s/x.yaml", Claim: "c", MountPath: "/s", Shards: 2, Memory: "lots"},
	} {
		if _, err := ShardsJob(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"default":               "vistudy-default",
		"ResNet_50 (48 runs)":   "vistudy-resnet-50--48-runs",
		strings.Repeat("a", 80): "vistudy-" + strings.Repeat("a", 48),
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
		if len(Name(in))+len("-merge") > 63 {
			t.Errorf("Name(%q) too long for a DNS label with -merge", in)
		}
	}
}
