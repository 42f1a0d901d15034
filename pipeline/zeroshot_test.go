package pipeline_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
)

// zeroShotStudy is a study of the zoo CLIP whose zero_shot block is block (indented by six),
// with the zoo's files as ${ZOO}.
func zeroShotStudy(t *testing.T, block string) string {
	t.Helper()
	zoo := filepath.Join(testenv.Root(t), "zoo")
	body := fmt.Sprintf(`name: zs
models:
  cnn: {path: %[1]s/models/standard.onnx, input: {size: 64}, labels: %[1]s/models/labels.txt}
  tinyclip:
    zero_shot:
%[2]s
    input: {size: 64}
    labels: %[1]s/models/labels.txt
datasets:
  aligned: {kind: synthetic-cue-conflict, set: aligned, seed: 1, per_pair: 1, labels: %[1]s/models/labels.txt}
stages:
  - id: images
    load: {dataset: aligned}
  - id: preds
    infer: {input: images, models: [tinyclip]}
`, zoo, indent(strings.ReplaceAll(block, "${ZOO}", zoo), "      "))
	return writeStudy(t, body)
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = by + l
	}
	return strings.Join(lines, "\n")
}

// encoders is the zoo CLIP's two encoder files and its token table.
const encoders = "image: ${ZOO}/clip/image.onnx\ntext: ${ZOO}/clip/text.onnx\ntokens: ${ZOO}/clip/tokens.json\nlogit_scale: 13.8877\n"

// TestZeroShotStudy: each prompt variant is a model <name>@<variant> whose path is its composed
// classifier in the run directory; a stage's models: naming the zero-shot model means every variant.
func TestZeroShotStudy(t *testing.T) {
	path := zeroShotStudy(t, encoders+"prompts:\n  neutral: single\n  shape: [\"a photo of a {} shape.\"]\n  bare: bare\n")
	s, err := pipeline.LoadStudy(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Validate(s, nil); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range s.Models {
		names = append(names, m.Name)
		if m.ZeroShot == nil {
			continue
		}
		if want := filepath.Join(s.Output, "zeroshot", m.Name+".onnx"); m.Path != want {
			t.Errorf("%s: path %s, want %s", m.Name, m.Path, want)
		}
		if m.ZeroShot.Model != "tinyclip" || m.ZeroShot.LogitScale != 13.8877 || m.Labels == "" {
			t.Errorf("%s: %+v", m.Name, m.ZeroShot)
		}
	}
	want := []string{"cnn", "tinyclip@neutral", "tinyclip@shape", "tinyclip@bare"}
	if !slices.Equal(names, want) {
		t.Errorf("models %v, want %v", names, want)
	}
	for _, st := range s.Stages {
		if st.ID == "preds" && !slices.Equal(st.Models, want[1:]) {
			t.Errorf("preds runs for %v, want %v", st.Models, want[1:])
		}
	}
}

// TestZeroShotProblems: every bad zero_shot block is reported at its key, naming the file or key.
func TestZeroShotProblems(t *testing.T) {
	dir := t.TempDir()
	damaged := filepath.Join(dir, "merges.txt.gz")
	if err := os.WriteFile(damaged, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	single := "prompts: {neutral: single}\n"
	cases := []struct {
		name, block string
		want        string // substring of the problem, which carries its line
	}{
		{"template without {}", encoders + "prompts:\n  odd: [\"a photo.\"]\n", `study.yaml:11:14: model "tinyclip" zero_shot prompts.odd`},
		{"template without {} says why", encoders + "prompts:\n  odd: [\"a photo.\"]\n", `prompts.odd: templates[0] "a photo.": template must hold exactly one {}`},
		{"unknown template set", encoders + "prompts: {many: imagenet81}\n", `prompts.many: templates "imagenet81": not a template set`},
		{"imagenet80 without prompts_file", encoders + "prompts: {ens: imagenet80}\n", `prompts.ens: imagenet80 needs prompts_file`},
		{"missing merges", "image: ${ZOO}/clip/image.onnx\ntext: ${ZOO}/clip/text.onnx\nmerges: " + dir + "/none.txt.gz\n" + single, `zero_shot merges: clip tokenizer: merges file`},
		{"damaged merges", "image: ${ZOO}/clip/image.onnx\ntext: ${ZOO}/clip/text.onnx\nmerges: " + damaged + "\n" + single, damaged + ": not a gzip file"},
		{"no tokenizer", "image: ${ZOO}/clip/image.onnx\ntext: ${ZOO}/clip/text.onnx\n" + single, "needs `merges:`"},
		{"no encoders", "tokens: ${ZOO}/clip/tokens.json\n" + single, "needs `image:` and `text:`"},
		{"no prompts", encoders, "needs `prompts:`"},
		{"missing encoder", strings.Replace(encoders, "clip/image.onnx", "clip/none.onnx", 1) + single, "zero_shot image: "},
		{"embedding sizes differ", strings.Replace(encoders, "clip/image.onnx", "models/standard.onnx", 1) + single, "embeds in 8 dimensions, text encoder"},
		{"text encoder without token input", strings.Replace(encoders, "clip/text.onnx", "clip/image.onnx", 1) + single, "no integer token input"},
		{"prompt not in the token table", encoders + "prompts: {other: [\"a drawing of a {}.\"]}\n", `has no ids for ["a drawing of a circle." "a drawing of a square." "a drawing of a triangle."] and 5 more`},
		{"bad classes", encoders + "classes: imagenet1k\n" + single, "classes must be labels or imagenet16"},
		{"imagenet16 without files", encoders + "classes: imagenet16\n" + single, "classes imagenet16 needs prompts_file"},
		{"bad logit scale", strings.Replace(encoders, "13.8877", "-1", 1) + single, "logit_scale must be positive"},
		{"unknown key", encoders + "promts: {}\n" + single, `unknown key "promts" in model "tinyclip" zero_shot`},
		{"bad variant name", encoders + "prompts: {\"a b\": single}\n", `prompts.a b: a variant name may hold`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := zeroShotStudy(t, c.block)
			s, err := pipeline.LoadStudy(path, nil)
			if err == nil {
				err = pipeline.Validate(s, nil)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a problem with %q, got: %v", c.want, err)
			}
			if !strings.Contains(err.Error(), path+":") {
				t.Errorf("the problem names no position in %s: %v", path, err)
			}
		})
	}
}

// TestZeroShotPathAndBlock: a model gives path or zero_shot, not both.
func TestZeroShotPathAndBlock(t *testing.T) {
	zoo := filepath.Join(testenv.Root(t), "zoo")
	path := writeStudy(t, fmt.Sprintf("models:\n  m:\n    path: %[1]s/models/standard.onnx\n    zero_shot: {image: %[1]s/clip/image.onnx, text: %[1]s/clip/text.onnx, tokens: %[1]s/clip/tokens.json, prompts: {n: single}}\n    input: {size: 64}\nstages: []\n", zoo))
	_, err := pipeline.LoadStudy(path, nil)
	if err == nil || !strings.Contains(err.Error(), ":2:3: model \"m\" has `path:` and `zero_shot:`") {
		t.Fatalf("got %v", err)
	}
}
