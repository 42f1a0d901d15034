package clip_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/runtimes/clip"
	"github.com/vistudy/vistudy/runtimes/onnx"
	_ "github.com/vistudy/vistudy/stages/builtin"
)

// TestZooCLIPStudy runs examples/zoo-clip-prompts.yaml end to end with the real plugins: the zoo
// CLIP under three prompt variants (each the study model tinyclip@variant, a classifier composed
// in the run directory) next to the standard CNN. The study must reproduce the model card: the
// same aligned accuracy and cue-conflict decisions as the in-process measurement of
// TestZooCLIP, shape bias shape > neutral > texture; and a second run must reuse the class
// embeddings and composed classifiers.
func TestZooCLIPStudy(t *testing.T) {
	testenv.SharedData(t, "clip", "bpe_simple_vocab_16e6.txt.gz")
	c := readCard(t)
	cat := testenv.Catalog(t, "runtimes/onnxruntime", "plugins/metrics/accuracy", "plugins/metrics/shapebias", "plugins/metrics/calibration")
	out := filepath.Join(t.TempDir(), "run")
	file := filepath.Join(testenv.Root(t), "examples", "zoo-clip-prompts.yaml")
	overrides := []pipeline.Override{{Key: "output", Value: out, Source: "test"}}
	run := func() {
		t.Helper()
		s, err := pipeline.LoadStudy(file, overrides)
		if err != nil {
			t.Fatal(err)
		}
		if err := pipeline.Validate(s, cat); err != nil {
			t.Fatal(err)
		}
		plan, err := pipeline.NewPlan(s, cat)
		if err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		if err := pipeline.Run(context.Background(), plan, pipeline.Options{Catalog: cat, Mem: mem, Overrides: overrides}); err != nil {
			t.Fatal(err)
		}
		mem.AssertSize(t, 0)
	}
	run()
	rows, err := pqfile.ReadResults(filepath.Join(out, pipeline.ResultsFile), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	value := map[string]float64{}
	for _, r := range rows {
		if r.Group == "" {
			value[r.Model+"/"+r.Stage+"/"+r.Metric] = r.Value
		}
	}
	chance := 1 / float64(len(c.Classes))
	bias := map[string]float64{}
	for _, v := range []string{"neutral", "shape", "texture"} {
		m := "tinyclip@" + v
		want := c.Metrics[v]
		acc, sb := value[m+"/acc/top1"], value[m+"/shape/shape_bias"]
		shape, texture := value[m+"/shape/shape_count"], value[m+"/shape/texture_count"]
		bias[v] = sb
		t.Logf("%-16s aligned accuracy %.4f (card %.4f), shape %v texture %v (card %d/%d) → shape bias %.3f (card %.3f); ECE %.3f",
			m, acc, want.AlignedAccuracy, shape, texture, want.Shape, want.Texture, sb, want.ShapeBias, value[m+"/calibration/ece"])
		if acc < 4*chance {
			t.Errorf("%s: aligned accuracy %.3f, not well above chance %.3f", m, acc, chance)
		}
		if d := math.Abs(acc-want.AlignedAccuracy) * 800; d > flipTolerance+0.5 {
			t.Errorf("%s: aligned accuracy %.4f, card %.4f", m, acc, want.AlignedAccuracy)
		}
		if math.Abs(shape-float64(want.Shape)) > flipTolerance || math.Abs(texture-float64(want.Texture)) > flipTolerance {
			t.Errorf("%s: %v shape / %v texture decisions, card %d / %d", m, shape, texture, want.Shape, want.Texture)
		}
		if _, ok := value[m+"/calibration/ece"]; !ok {
			t.Errorf("%s: no calibration rows", m)
		}
	}
	if !(bias["shape"] > bias["neutral"]+0.05 && bias["texture"] < bias["neutral"]-0.05) {
		t.Errorf("shape bias: neutral %.3f, shape prompt %.3f, texture prompt %.3f: want shape > neutral > texture", bias["neutral"], bias["shape"], bias["texture"])
	}
	if _, ok := value["standard/shape/shape_bias"]; !ok {
		t.Error("the classifier has no shape bias row in the same table")
	}

	// The manifest records the composed classifiers and what each was composed from.
	b, err := os.ReadFile(filepath.Join(out, pipeline.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var man pipeline.Manifest
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	if len(man.ZeroShot) != 3 || man.ZeroShot[0].Model != "tinyclip@neutral" || man.ZeroShot[0].Image.SHA256 == "" ||
		man.ZeroShot[0].Text.SHA256 == "" || man.ZeroShot[0].Tokens.Name != "merges" || len(man.Models) != 4 {
		t.Errorf("manifest: zero_shot %+v, models %+v", man.ZeroShot, man.Models)
	}

	// A second run finds every unit and the zero-shot files done: nothing is rewritten.
	zs := filepath.Join(out, "zeroshot")
	before := modTimes(t, zs)
	run()
	if after := modTimes(t, zs); len(after) != len(before) {
		t.Errorf("zeroshot/ held %d files, now %d", len(before), len(after))
	} else {
		for f, m := range before {
			if after[f] != m {
				t.Errorf("the resumed run rewrote %s", f)
			}
		}
	}

	// The composed classifier's logits are clip.ZeroShot's on the encoders' own outputs.
	tok, err := clip.LoadTokenizer(testenv.SharedData(t, "clip", "bpe_simple_vocab_16e6.txt.gz"))
	if err != nil {
		t.Fatal(err)
	}
	size := c.TestAligned.Size
	per := int64(3 * size * size)
	img := newEncoder(t, "image.onnx", "image", c.Dim, per)
	txt := textEncoder{newEncoder(t, "text.onnx", "text", c.Dim, clip.ContextLength)}
	x, _ := render(t, c.TestConflict)
	x = x[:40*per]
	for _, v := range []string{"neutral", "texture"} {
		cls, err := clip.ClassEmbeddings(context.Background(), tok, txt, c.Classes, []string{c.Prompts[v]})
		if err != nil {
			t.Fatal(err)
		}
		composed := newEncoderOutput(t, filepath.Join(zs, "tinyclip@"+v+".onnx"), "image", onnx.ZeroShotOutput, len(c.Classes), per)
		got := embedImages(t, composed, x)
		z := &clip.ZeroShot{Classes: cls, Scale: c.LogitScale}
		worst := 0.0
		for i, e := range embedImages(t, img, x) {
			want, err := z.Logits(e)
			if err != nil {
				t.Fatal(err)
			}
			for k := range want {
				worst = math.Max(worst, math.Abs(float64(got[i][k]-want[k])))
			}
		}
		t.Logf("%s: composed logits differ from clip.ZeroShot.Logits by at most %.2g", v, worst)
		if worst > 1e-4 {
			t.Errorf("%s: composed logits differ from clip.ZeroShot.Logits by %g", v, worst)
		}
	}
}

// modTimes maps every file under dir to its modification time.
func modTimes(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = info.ModTime().UnixNano()
	}
	return out
}

// TestZooTokenTable: tokens.json, which the default study reads instead of the merges file (not in
// the repository), holds exactly the ids the tokenizer gives from the merges file; remake it with
// go run ./zoo/clip/tokenize -merges … -card zoo/clip/clip.json -table zoo/clip/tokens.json.
func TestZooTokenTable(t *testing.T) {
	tok, err := clip.LoadTokenizer(testenv.SharedData(t, "clip", "bpe_simple_vocab_16e6.txt.gz"))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := clip.LoadTokenTable("tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	c := readCard(t)
	var texts []string
	for _, tmpl := range append([]string{clip.BareTemplate}, c.Prompts["neutral"], c.Prompts["shape"], c.Prompts["texture"]) {
		for _, cls := range c.Classes {
			texts = append(texts, clip.Fill(tmpl, cls))
		}
	}
	if len(tab.Tokens) != len(texts) {
		t.Errorf("tokens.json holds %d texts, the card's prompts are %d", len(tab.Tokens), len(texts))
	}
	want, _ := tok.TokenizeAll(texts, clip.ContextLength)
	got, err := tab.TokenizeAll(texts, clip.ContextLength)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("%q: tokens.json %v, tokenizer %v", texts[i], got[i][:12], want[i][:12])
		}
	}
	if fresh, err := clip.MakeTokenTable(tok, nil); err != nil || fresh.MergesSHA256 != tab.MergesSHA256 {
		t.Errorf("tokens.json was made from merges with sha256 %s, ../shared/data has %v (%v)", tab.MergesSHA256, fresh, err)
	}
}

// TestZooCLIPAttack: white-box PGD attacks a zero-shot model through its composed classifier's
// gradient graph (image encoder, L2 norm, class embeddings) like any classifier. It reads the
// token table, so it runs on what the repository ships.
func TestZooCLIPAttack(t *testing.T) {
	cat := testenv.Catalog(t, "runtimes/onnxruntime", "plugins/metrics/accuracy", "plugins/attacks/pgd")
	zoo := filepath.Join(testenv.Root(t), "zoo")
	dir := t.TempDir()
	study := filepath.Join(dir, "study.yaml")
	body := `name: clip-pgd
output: run
execution: {batch_size: 40, unit_size: 40}
runtime: {threads: 1}
models:
  tinyclip:
    zero_shot:
      image: ZOO/clip/image.onnx
      text: ZOO/clip/text.onnx
      tokens: ZOO/clip/tokens.json
      logit_scale: 13.8877
      prompts: {neutral: ["a photo of a {}."]}
    input: {size: 64}
    labels: ZOO/models/labels.txt
datasets:
  probe: {kind: synthetic-cue-conflict, set: aligned, seed: 9, per_pair: 5, labels: ZOO/models/labels.txt}
stages:
  - id: images
    load: {dataset: probe}
  - id: preds
    infer: {input: images}
  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1]}}
  - id: pgd
    perturb: {input: images, attack: pgd, params: {eps: [0.00392, 0.0314], steps: 5}, sweep: [eps]}
  - id: pgd_preds
    infer: {input: pgd}
  - id: acc_pgd
    measure: {input: pgd_preds, metric: accuracy, params: {topk: [1]}}
`
	if err := os.WriteFile(study, []byte(strings.ReplaceAll(body, "ZOO", zoo)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := pipeline.LoadStudy(study, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Validate(s, cat); err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.NewPlan(s, cat)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	if err := pipeline.Run(context.Background(), plan, pipeline.Options{Catalog: cat, Mem: mem}); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	rows, err := pqfile.ReadResults(filepath.Join(s.Output, pipeline.ResultsFile), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	top1 := map[string]float64{}
	for _, r := range rows {
		if r.Metric == "top1" {
			top1[r.Stage+"/"+r.Group] = r.Value
		}
	}
	clean, weak, strong := top1["acc/"], top1["acc_pgd/eps=0.00392"], top1["acc_pgd/eps=0.0314"]
	t.Logf("tinyclip@neutral top-1: clean %.3f, PGD eps 1/255 %.3f, eps 8/255 %.3f", clean, weak, strong)
	if !(clean > 0.9 && weak < clean && strong <= weak && strong < 0.5) {
		t.Errorf("top-1 clean %.3f, PGD 1/255 %.3f, 8/255 %.3f: PGD through the composed classifier should bring it down", clean, weak, strong)
	}
}

// TestZooCLIPImageNet16: classes: imagenet16 composes the 1000-name zero-shot classifier with
// model-vs-human's aggregation, whose category probabilities (the runtime reads their logarithm)
// are clip.ZeroShot's with Categories. The zoo model knows none of the ImageNet words; this checks
// the mechanics, not the accuracy.
func TestZooCLIPImageNet16(t *testing.T) {
	merges := testenv.SharedData(t, "clip", "bpe_simple_vocab_16e6.txt.gz")
	promptsFile := testenv.SharedData(t, "clip", "imagenet_prompts.json")
	catsFile := testenv.SharedData(t, "imagenet16.json")
	cat := testenv.Catalog(t, "runtimes/onnxruntime")
	dir := t.TempDir()
	p, err := clip.LoadPrompts(promptsFile)
	if err != nil {
		t.Fatal(err)
	}
	cats, err := clip.LoadCategories(catsFile, len(p.Classes))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "labels16.txt"), []byte(strings.Join(cats.Names, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`name: clip16
output: run
models:
  tinyclip:
    zero_shot:
      image: %[1]s/clip/image.onnx
      text: %[1]s/clip/text.onnx
      merges: %[2]s
      logit_scale: 13.8877
      classes: imagenet16
      prompts_file: %[3]s
      categories: %[4]s
      prompts: {single: single}
    input: {size: 64}
    labels: labels16.txt
stages: []
`, filepath.Join(testenv.Root(t), "zoo"), merges, promptsFile, catsFile)
	study := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(study, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := pipeline.LoadStudy(study, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := s.Models[0]
	if m.Name != "tinyclip@single" || m.Output != "probabilities" {
		t.Fatalf("model %s output %s, want tinyclip@single with probabilities", m.Name, m.Output)
	}
	if err := pipeline.PrepareZeroShot(context.Background(), s, cat, nil, nil); err != nil {
		t.Fatal(err)
	}
	tok, err := clip.LoadTokenizer(merges)
	if err != nil {
		t.Fatal(err)
	}
	c := readCard(t)
	per := int64(3 * c.TestAligned.Size * c.TestAligned.Size)
	txt := textEncoder{newEncoder(t, "text.onnx", "text", c.Dim, clip.ContextLength)}
	cls, err := clip.ClassEmbeddings(context.Background(), tok, txt, p.Classes, []string{clip.SingleTemplate})
	if err != nil {
		t.Fatal(err)
	}
	z := &clip.ZeroShot{Classes: cls, Scale: c.LogitScale, Categories: cats}
	x, _ := render(t, c.TestConflict)
	x = x[:20*per]
	img := newEncoder(t, "image.onnx", "image", c.Dim, per)
	composed := newEncoderOutput(t, m.Path, "image", onnx.ZeroShotOutput, len(cats.Names), per)
	got := embedImages(t, composed, x)
	worst := 0.0
	for i, e := range embedImages(t, img, x) {
		want, err := z.Logits(e)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			worst = math.Max(worst, math.Abs(math.Log(float64(got[i][k]))-float64(want[k])))
		}
	}
	t.Logf("ln of the composed category probabilities differ from clip.ZeroShot's by at most %.2g", worst)
	if worst > 1e-4 {
		t.Errorf("composed imagenet16 scores differ from clip.ZeroShot's by %g", worst)
	}
}

// oneFileScript joins the zoo's two encoders into one ONNX file holding both towers (tensors
// prefixed img_ and txt_), as an optimum export of a Hugging Face CLIP holds both.
const oneFileScript = `
import sys, onnx, onnx.compose
img = onnx.compose.add_prefix(onnx.load(sys.argv[1]), "img_")
txt = onnx.compose.add_prefix(onnx.load(sys.argv[2]), "txt_")
g = onnx.helper.make_graph(list(img.graph.node) + list(txt.graph.node), "both",
    list(img.graph.input) + list(txt.graph.input), list(img.graph.output) + list(txt.graph.output),
    list(img.graph.initializer) + list(txt.graph.initializer))
m = onnx.helper.make_model(g, opset_imports=img.opset_import)
m.ir_version = img.ir_version
onnx.checker.check_model(m)
onnx.save(m, sys.argv[3])
`

// oneStage is the least a study needs beside its models: a dataset and a stage.
const oneStage = "datasets:\n  d: {kind: synthetic-cue-conflict, set: aligned, per_pair: 1, labels: ZOO/models/labels.txt}\nstages:\n  - id: images\n    load: {dataset: d}\n"

// TestZooCLIPOneFile: the one-file form (file: with the four tensor names) composes the same
// classifier as the two files: each tower is cut out of the file.
func TestZooCLIPOneFile(t *testing.T) {
	dir := t.TempDir()
	both := filepath.Join(dir, "both.onnx")
	if out, err := exec.Command("/usr/bin/python3", "-c", oneFileScript, "image.onnx", "text.onnx", both).CombinedOutput(); err != nil {
		t.Skipf("python3 with onnx makes the one-file model: %v\n%s", err, out)
	}
	cat := testenv.Catalog(t, "runtimes/onnxruntime")
	zoo := filepath.Join(testenv.Root(t), "zoo")
	prepare := func(name, block string) *pipeline.Model {
		t.Helper()
		body := fmt.Sprintf("name: %s\noutput: %s\nmodels:\n  tinyclip:\n    zero_shot:\n%s      tokens: %[4]s/clip/tokens.json\n      logit_scale: 13.8877\n      prompts: {neutral: single}\n    input: {size: 64}\n    labels: %[4]s/models/labels.txt\n%[5]s",
			name, name, block, zoo, strings.ReplaceAll(oneStage, "ZOO", zoo))
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := pipeline.LoadStudy(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pipeline.Validate(s, nil); err != nil {
			t.Fatal(err)
		}
		if err := pipeline.PrepareZeroShot(context.Background(), s, cat, nil, nil); err != nil {
			t.Fatal(err)
		}
		return s.Models[0]
	}
	one := prepare("one", fmt.Sprintf("      file: %s\n      image_input: img_image\n      image_output: img_embedding\n      text_input: txt_text\n      text_output: txt_embedding\n", both))
	two := prepare("two", fmt.Sprintf("      image: %[1]s/clip/image.onnx\n      text: %[1]s/clip/text.onnx\n", zoo))
	c := readCard(t)
	per := int64(3 * c.TestAligned.Size * c.TestAligned.Size)
	x, _ := render(t, c.TestConflict)
	x = x[:20*per]
	a := embedImages(t, newEncoderOutput(t, one.Path, "img_image", onnx.ZeroShotOutput, len(c.Classes), per), x)
	b := embedImages(t, newEncoderOutput(t, two.Path, "image", onnx.ZeroShotOutput, len(c.Classes), per), x)
	worst := 0.0
	for i := range a {
		for k := range a[i] {
			worst = math.Max(worst, math.Abs(float64(a[i][k]-b[i][k])))
		}
	}
	t.Logf("the one-file classifier's logits differ from the two files' by at most %.2g", worst)
	if worst > 1e-5 {
		t.Errorf("the one-file classifier's logits differ from the two files' by %g", worst)
	}
	// A tower name that is not in the file is a validate problem at file:.
	body := fmt.Sprintf("models:\n  m:\n    zero_shot: {file: %s, image_input: img_image, image_output: nope, text_input: txt_text, text_output: txt_embedding, tokens: %s/clip/tokens.json, prompts: {n: single}}\n    input: {size: 64}\n    labels: %s/models/labels.txt\n", both, zoo, zoo)
	path := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := pipeline.LoadStudy(path, nil)
	if err == nil {
		err = pipeline.Validate(s, nil)
	}
	if err == nil || !strings.Contains(err.Error(), `no node produces "nope"`) || !strings.Contains(err.Error(), "bad.yaml:3:") {
		t.Errorf("a missing tower output: %v", err)
	}
}
