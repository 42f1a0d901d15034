// Package k8s writes a study's shards as a Kubernetes Indexed Job (pod i runs
// `vistudy run --shard i/N`, i from JOB_COMPLETION_INDEX) and the Job that merges them, both on a
// shared PersistentVolumeClaim, from the typed API structs of k8s.io/api.
package k8s

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Files the Jobs are written to, in the run directory's k8s folder.
const (
	Dir        = "k8s"
	ShardsFile = "shards.yaml" // the Indexed Job
	MergeFile  = "merge.yaml"  // the merge Job
)

// GPUResource is the extended resource name of NVIDIA GPUs (the device plugin's).
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// CompletionIndexEnv is the variable the Job controller sets to a pod's index.
const CompletionIndexEnv = "JOB_COMPLETION_INDEX"

// Spec is what the Jobs run.
type Spec struct {
	Name            string   // Job name (DNS label): <Name> and <Name>-merge
	Namespace       string   // "" for the current namespace
	Image           string   // container image with vistudy, its plugins and ONNX Runtime
	Vistudy         string   // vistudy in the image (default "vistudy" on PATH)
	Study           string   // the study file as the containers see it (on the claim)
	Args            []string // arguments of run and merge before the study (--set k=v ...)
	Env             []string // KEY=VALUE set in the containers
	Claim           string   // PersistentVolumeClaim that holds the study and its run directory
	MountPath       string   // where the claim is mounted
	Shards          int      // completions: N of --shard i/N
	Parallelism     int      // pods at once (0: all shards)
	CPUs            int      // CPU request and limit per pod (0: none)
	GPUs            int      // nvidia.com/gpu limit per shard pod (0: none)
	Memory          string   // memory request and limit per pod ("16Gi"; "" for none)
	BackoffPerIndex int32    // retries of one index before it fails (backoffLimitPerIndex)
}

func (s Spec) vistudy() string {
	if s.Vistudy == "" {
		return "vistudy"
	}
	return s.Vistudy
}

// pod is the pod template both Jobs share, running args.
func (s Spec) pod(args []string, gpus int) (corev1.PodTemplateSpec, error) {
	res := corev1.ResourceRequirements{Limits: corev1.ResourceList{}, Requests: corev1.ResourceList{}}
	if s.CPUs > 0 {
		q := resource.MustParse(strconv.Itoa(s.CPUs))
		res.Requests[corev1.ResourceCPU], res.Limits[corev1.ResourceCPU] = q, q
	}
	if s.Memory != "" {
		q, err := resource.ParseQuantity(s.Memory)
		if err != nil {
			return corev1.PodTemplateSpec{}, fmt.Errorf("k8s: memory %q: %w", s.Memory, err)
		}
		res.Requests[corev1.ResourceMemory], res.Limits[corev1.ResourceMemory] = q, q
	}
	if gpus > 0 {
		// Extended resources are set as limits (the request defaults to the limit).
		res.Limits[GPUResource] = resource.MustParse(strconv.Itoa(gpus))
	}
	var env []corev1.EnvVar
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "vistudy", "vistudy/study": s.Name}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name:         "vistudy",
				Image:        s.Image,
				Command:      []string{s.vistudy()},
				Args:         args,
				Env:          env,
				Resources:    res,
				VolumeMounts: []corev1.VolumeMount{{Name: "study", MountPath: s.MountPath}},
			}},
			Volumes: []corev1.Volume{{
				Name:         "study",
				VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: s.Claim}},
			}},
		},
	}, nil
}

func (s Spec) check() error {
	switch {
	case s.Name == "", s.Image == "", s.Claim == "", s.MountPath == "", s.Study == "":
		return fmt.Errorf("k8s: a job needs a name, an image, a claim, a mount path and the study path (got name %q image %q claim %q mount %q study %q)", s.Name, s.Image, s.Claim, s.MountPath, s.Study)
	case s.Shards < 1:
		return fmt.Errorf("k8s: %d shards: want at least 1", s.Shards)
	}
	return nil
}

// ShardsJob is the Indexed Job: N completions, pod i runs `vistudy run --shard i/N`.
func ShardsJob(s Spec) (*batchv1.Job, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	args := append([]string{"run", fmt.Sprintf("--shard=$(%s)/%d", CompletionIndexEnv, s.Shards)}, s.Args...)
	tmpl, err := s.pod(append(args, s.Study), s.GPUs)
	if err != nil {
		return nil, err
	}
	// Declared here (as the controller would) so that $(JOB_COMPLETION_INDEX) expands in args.
	c := &tmpl.Spec.Containers[0]
	c.Env = append([]corev1.EnvVar{{Name: CompletionIndexEnv, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']"},
	}}}, c.Env...)
	mode := batchv1.IndexedCompletion
	n := int32(s.Shards)
	par := n
	if s.Parallelism > 0 && int32(s.Parallelism) < n {
		par = int32(s.Parallelism)
	}
	perIndex := max(s.BackoffPerIndex, 0)
	// backoffLimitPerIndex retries each shard on its own; the Job's backoffLimit is then unbounded.
	backoff := int32(1<<31 - 1)
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace},
		Spec: batchv1.JobSpec{
			CompletionMode:       &mode,
			Completions:          &n,
			Parallelism:          &par,
			BackoffLimit:         &backoff,
			BackoffLimitPerIndex: &perIndex,
			Template:             tmpl,
		},
	}, nil
}

// MergeJob is the Job that runs `vistudy merge` once the Indexed Job has completed.
func MergeJob(s Spec) (*batchv1.Job, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	tmpl, err := s.pod(append(append([]string{"merge"}, s.Args...), s.Study), 0)
	if err != nil {
		return nil, err
	}
	backoff := int32(2)
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name + "-merge", Namespace: s.Namespace},
		Spec:       batchv1.JobSpec{BackoffLimit: &backoff, Template: tmpl},
	}, nil
}

// YAML serialises objects as one YAML stream (documents separated by ---).
func YAML(objs ...any) ([]byte, error) {
	var b bytes.Buffer
	for i, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("k8s: encode: %w", err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

// Name makes a DNS-1123 label of a study name: lower case, '-' for anything else, at most 63
// characters less room for "-merge".
func Name(study string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(study) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-")
	if len(n) > 48 {
		n = strings.TrimRight(n[:48], "-")
	}
	return "vistudy-" + n
}
