package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// top1 reads the overall top-1 row of the acc stage.
func top1(t *testing.T, dir string) arrowio.Result {
	t.Helper()
	for _, r := range results(t, dir) {
		if r.Stage == "acc" && r.Metric == "top1" && r.Group == "" {
			return r
		}
	}
	t.Fatalf("no overall top1 in %s", dir)
	return arrowio.Result{}
}

func writePNG(t *testing.T, path string, c color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 20, 20))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOutputMustBeARunDirectory: a non-empty folder that is not a run directory is refused and
// left as it was (it used to be overwritten: study.yaml, results.parquet, report/).
func TestOutputMustBeARunDirectory(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	out := t.TempDir()
	mine := filepath.Join(out, "results.parquet")
	if err := os.WriteFile(mine, []byte("my own results"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := pipeline.Run(context.Background(), plan(t, study(w, t, out), cat), pipeline.Options{Catalog: cat})
	if err == nil || !strings.Contains(err.Error(), "not a vistudy run directory") {
		t.Fatalf("run into a user's folder: %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "my own results" {
		t.Errorf("the user's file was changed to %q", b)
	}
	if _, err := os.Stat(filepath.Join(out, pipeline.StudyFile)); err == nil {
		t.Error("study.yaml was written into the user's folder")
	}
}

// TestTwoStudiesOneOutput: two different studies opening one output at once never both pass
// (the check and the creation of run.json hold an exclusive lock).
func TestTwoStudiesOneOutput(t *testing.T) {
	w := testenv.NewColourWorld(t)
	for try := 0; try < 20; try++ {
		out := filepath.Join(t.TempDir(), "out")
		var studies []*pipeline.Study
		for seed := 1; seed <= 2; seed++ {
			p := filepath.Join(w.Dir, fmt.Sprintf("race-%d-%d.yaml", try, seed))
			body := strings.Replace(readStudy(t, study(w, t, out)), "seed: 3", fmt.Sprintf("seed: %d", 10+seed), 1)
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := pipeline.LoadStudy(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			studies = append(studies, s)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range studies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = pipeline.OpenRunDir(s, nil)
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("try %d: two studies into one output gave %v and %v, want exactly one refused", try, errs[0], errs[1])
		}
	}
}

// TestFilesKeepTheUmask: files renamed into the run directory have the mode os.Create gives
// (0666 less the umask), not os.CreateTemp's 0600, so a lab can share run directories.
func TestFilesKeepTheUmask(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	out := filepath.Join(t.TempDir(), "run")
	if err := pipeline.Run(context.Background(), plan(t, study(w, t, out), cat), pipeline.Options{Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{pipeline.ResultsFile, pipeline.ErrorsFile, pipeline.ManifestName, pipeline.StudyFile} {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want -rw-r--r-- under umask 022", f, st.Mode().Perm())
		}
	}
	parts, _ := filepath.Glob(filepath.Join(out, "tables", "preds", "*", "part-*.parquet"))
	for _, p := range parts {
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want -rw-r--r--", p, st.Mode().Perm())
		}
	}
}

// TestResumeBoundToInputs: a changed model file or an extended dataset is refused on resume
// (the old numbers used to stay while the manifest recorded the new inputs); with Redo, what the
// change affects is redone and the numbers are those of a fresh run.
func TestResumeBoundToInputs(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	out := filepath.Join(t.TempDir(), "run")
	path := study(w, t, out)
	if err := pipeline.Run(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	if got := top1(t, out); got.Value != 48.0/52 || got.N != 52 {
		t.Fatalf("first run: top1 %v over %d, want 48/52", got.Value, got.N)
	}

	t.Run("model", func(t *testing.T) {
		// The "dark" class's bias 0.4 → 0.9: every red, green and blue image (means ≤ 0.9) is now dark
		// but for the channel at 230/255 ≈ 0.902, so the answer stays 48/52 — a swap of red and green
		// weights does change it: red images become green and green red.
		c := onnx.Classifier{DType: onnx.Float32, Channels: 3, Height: 16, Width: 16, Filters: 3, Kernel: 1, Classes: 4,
			ConvWeight: []float32{0, 1, 0, 1, 0, 0, 0, 0, 1}, ConvBias: []float32{0, 0, 0},
			FCWeight: []float32{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, FCBias: []float32{0, 0, 0, 0.4}}
		data, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(w.Model, data, 0o644); err != nil {
			t.Fatal(err)
		}
		err = pipeline.Run(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat})
		if err == nil || !strings.Contains(err.Error(), `model "colour": its file changed`) {
			t.Fatalf("resume after the model changed: %v, want a refusal naming the model", err)
		}
		if err := pipeline.Run(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat, Redo: true}); err != nil {
			t.Fatal(err)
		}
		// Swapped red and green: the 12 red and 12 green images are wrong, the 4 red in green right.
		if got := top1(t, out); got.Value != 28.0/52 || got.N != 52 {
			t.Errorf("after redo: top1 %v over %d, want 28/52 (red and green swapped)", got.Value, got.N)
		}
	})

	t.Run("dataset", func(t *testing.T) {
		for i := 0; i < 10; i++ {
			writePNG(t, filepath.Join(w.Data, "2blue", fmt.Sprintf("added%02d.png", i)), color.RGBA{25, 25, 230, 255})
		}
		err := pipeline.Run(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat})
		if err == nil || !strings.Contains(err.Error(), `dataset "colours": its listing changed`) {
			t.Fatalf("resume after ten images were added: %v, want a refusal naming the dataset", err)
		}
		if err := pipeline.Run(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat, Redo: true}); err != nil {
			t.Fatal(err)
		}
		if got := top1(t, out); got.N != 62 || got.Value != 38.0/62 {
			t.Errorf("after redo: top1 %v over %d, want 38/62 (ten more blue images, all right)", got.Value, got.N)
		}
	})
}

// TestDeletedPartFile: a unit whose part file was deleted is not silently dropped: Finalize
// names it, and the next run redoes it.
func TestDeletedPartFile(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	out := filepath.Join(t.TempDir(), "run")
	path := study(w, t, out)
	if err := pipeline.Run(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(out, pipeline.ResultsFile))
	parts, _ := filepath.Glob(filepath.Join(out, "tables", "preds", "*", "part-u00002.parquet"))
	if len(parts) != 1 {
		t.Fatalf("part files of unit 2: %v", parts)
	}
	os.Remove(parts[0])
	err := pipeline.Finalize(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat})
	if err == nil || !strings.Contains(err.Error(), "part file") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("finalize without a part file: %v, want it named as missing", err)
	}
	if err := pipeline.Run(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(parts[0]); err != nil {
		t.Errorf("the deleted part file was not redone: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, pipeline.ResultsFile)); !bytes.Equal(got, want) {
		t.Error("results.parquet after redoing the unit differs from the first run's")
	}
}

// TestAllInputsFailing: a dataset of which no image can be read is an error, not top1 0 with n 0.
func TestAllInputsFailing(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	bad := filepath.Join(w.Dir, "broken")
	for _, c := range []string{"0red", "1green"} {
		os.MkdirAll(filepath.Join(bad, c), 0o755)
		for i := 0; i < 3; i++ {
			os.WriteFile(filepath.Join(bad, c, fmt.Sprintf("x%d.png", i)), []byte("not an image"), 0o644)
		}
	}
	w.Data = bad
	out := filepath.Join(t.TempDir(), "run")
	err := pipeline.Run(context.Background(), plan(t, study(w, t, out), cat), pipeline.Options{Catalog: cat})
	if err == nil || !strings.Contains(err.Error(), "no sample could be read: all 6 were skipped") {
		t.Fatalf("a dataset of unreadable files: %v, want an error", err)
	}
	if _, err := os.Stat(filepath.Join(out, pipeline.ErrorsFile)); err != nil {
		t.Errorf("errors.parquet, which says why, was not written: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, pipeline.ResultsFile)); err == nil {
		t.Error("results.parquet was written with numbers nobody can stand behind")
	}
}

// TestStudyBounds: a YAML alias bomb and an oversized file are refused quickly, with bounded
// memory (validate used to reach 15.5 GB in 60 s).
func TestStudyBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: bomb\nmodels: {}\nstages:\n  - id: x\n    measure:\n      input: y\n      metric: accuracy\n      params:\n        a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "        a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	start := time.Now()
	_, err := pipeline.ParseStudy([]byte(b.String()), "/bomb.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("alias bomb: %v, want a refusal", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the refusal took %v", d) // a bound on runaway, not a timing target
	}
	_, err = pipeline.ParseStudy(bytes.Repeat([]byte("# padding\n"), 2<<20), "/big.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "at most 16 MiB") {
		t.Errorf("a 20 MiB study: %v, want a refusal", err)
	}
}

// TestSyntaxErrorLines: YAML syntax errors point at the line of the problem (yaml.v3 reports
// parser errors one line early), without a made-up column.
func TestSyntaxErrorLines(t *testing.T) {
	cases := []struct{ body, want string }{
		{"name: x\nseed: 1\nstages:\n  - id: a\n load: {}\n", "/s.yaml:5: not valid YAML"},
		{"name: x\nseed: [1, 2\nmodels: {}\n", "/s.yaml:2: not valid YAML"},
		{"name: x\n\tseed: 1\n", "/s.yaml:2: not valid YAML"},
	}
	for _, c := range cases {
		_, err := pipeline.ParseStudy([]byte(c.body), "/s.yaml", nil)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want it to start with %q", c.body, err, c.want)
		}
	}
}

// TestValidateOpensModels: what can be checked without running is checked by validate: a
// folder as model, a file that is not ONNX, a wrong input size, a label space of another size,
// a model sha256 that does not match.
func TestValidateOpensModels(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	notONNX := filepath.Join(w.Dir, "notes.onnx")
	os.WriteFile(notONNX, []byte("these are my notes, not a model"), 0o644)
	five := filepath.Join(w.Dir, "five.txt")
	os.WriteFile(five, []byte("a\nb\nc\nd\ne\n"), 0o644)
	cases := []struct{ name, from, to, want string }{
		{"folder", w.Model, w.Dir, "is a folder; path names the .onnx file"},
		{"not onnx", w.Model, notONNX, "is not a readable ONNX model"},
		{"input size", "input: {size: 16, resize: 16}", "input: {size: 24, resize: 24}", "an image of 16x16, but input.size is 24x24"},
		{"labels", "labels: " + w.Labels, "labels: " + five, "the model outputs 4 classes, but its label space"},
		{"sha256", "labels: " + w.Labels, "labels: " + w.Labels + "\n    sha256: 0123456789abcdef", "the study requires 0123456789abcdef"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := strings.Replace(readStudy(t, study(w, t, filepath.Join(t.TempDir(), "o"))), c.from, c.to, 1)
			p := filepath.Join(t.TempDir(), "s.yaml")
			os.WriteFile(p, []byte(body), 0o644)
			s, err := pipeline.LoadStudy(p, nil)
			if err == nil {
				err = pipeline.Validate(s, cat)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("validate: %v, want a problem containing %q", err, c.want)
			}
		})
	}
}

// imagenetStudy writes a SqueezeNet study over dataset (YAML of one dataset entry).
func imagenetStudy(t *testing.T, dir, output, dataset string) string {
	t.Helper()
	model := testenv.SharedData(t, "models", "squeezenet1.1-fp16", "model.onnx")
	body := fmt.Sprintf(`name: subset
output: %s
execution: {batch_size: 8, unit_size: 16}
models:
  squeezenet:
    path: %s
    input: {resize: 256, size: 224, channels: BGR, scale: 255, mean: [103.939, 116.779, 123.68]}
    output_tensor: pool10_1
    labels: imagenet1k
datasets:
  d: %s
stages:
  - id: images
    load: {dataset: d}
  - id: preds
    infer: {input: images}
  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1, 5]}}
`, output, model, dataset)
	p := filepath.Join(dir, filepath.Base(output)+".yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLabelSpacesMapByName: WordNet-id class folders holding a subset of ImageNet's classes (the
// ImageNet-R/-A layout), with no dataset `labels:`, score what the same images score in the
// imagenet1k label space (sorted folder indices used to be compared with ImageNet indices: top-1
// 0.1 for 0.8); folders whose names no model class has are an error naming both spaces.
func TestLabelSpacesMapByName(t *testing.T) {
	sample := testenv.SharedData(t, "imagenet-sample")
	cat := pluginCatalog(t)
	files, _ := filepath.Glob(filepath.Join(sample, "*.JPEG"))
	if len(files) < 40 {
		t.Fatalf("%d images in %s", len(files), sample)
	}
	dir := t.TempDir()
	flat, folders := filepath.Join(dir, "flat"), filepath.Join(dir, "folders")
	for _, f := range files[100:140] {
		base := filepath.Base(f)
		wnid := base[:strings.Index(base, "_")]
		os.MkdirAll(flat, 0o755)
		os.MkdirAll(filepath.Join(folders, wnid), 0o755)
		os.Symlink(f, filepath.Join(flat, base))
		os.Symlink(f, filepath.Join(folders, wnid, base))
	}
	ref := filepath.Join(dir, "ref")
	if err := pipeline.Run(context.Background(), plan(t, imagenetStudy(t, dir, ref, "{kind: imagefolder, path: "+flat+", labels: imagenet1k}"), cat), pipeline.Options{Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "mapped")
	path := imagenetStudy(t, dir, out, "{kind: imagefolder, path: "+folders+"}")
	body := readStudy(t, path) + "  - id: subset\n    measure: {input: preds, metric: accuracy, params: {topk: [1], classes: dataset}}\n"
	os.WriteFile(path, []byte(body), 0o644)
	if err := pipeline.Run(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	want, got := top1(t, ref), top1(t, out)
	if got.N != 40 || got.Value != want.Value || want.Value < 0.4 {
		t.Errorf("class folders by WordNet id: top1 %v over %d, want the imagenet1k layout's %v over 40", got.Value, got.N, want.Value)
	}
	// The ImageNet-R/-A protocol: the arg-max over the dataset's 40 classes, recomputed here from
	// the saved logits and labels (which are the model's indices after the map).
	classes := map[int32]bool{}
	type scored struct {
		label  int32
		logits []float32
	}
	var samples []scored
	parts, _ := filepath.Glob(filepath.Join(out, "tables", "preds", "model-squeezenet", "part-*.parquet"))
	var recs []arrow.RecordBatch
	for _, p := range parts {
		rec, err := pqfile.ReadParquet(p, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Release()
		recs = append(recs, rec)
	}
	for _, r := range recs {
		ls, _ := arrowio.Int32Column(r, arrowio.ColLabel)
		lg, _ := arrowio.TensorColumn(r, arrowio.ColLogits)
		for i, l := range ls {
			classes[l] = true
			samples = append(samples, scored{l, lg.Row(i)})
		}
	}
	hits := 0
	for _, s := range samples {
		best := int32(-1)
		for c := range classes {
			if best < 0 || s.logits[c] > s.logits[best] || (s.logits[c] == s.logits[best] && c < best) {
				best = c
			}
		}
		if best == s.label {
			hits++
		}
	}
	subsetRows := 0
	for _, r := range results(t, out) {
		if r.Stage == "subset" && r.Metric == "top1" && r.Group == "" {
			subsetRows++
			if r.Value != float64(hits)/float64(len(samples)) || r.Value < got.Value {
				t.Errorf("classes: dataset: top1 %v, want %d/%d (the arg-max over the dataset's classes), at least %v", r.Value, hits, len(samples), got.Value)
			}
		}
	}
	if subsetRows != 1 {
		t.Errorf("%d overall top1 rows of the subset stage, want 1", subsetRows)
	}
	man, _ := os.ReadFile(filepath.Join(out, pipeline.ManifestName))
	if !strings.Contains(string(man), `"label_maps"`) || !strings.Contains(string(man), `"by": "id"`) {
		t.Errorf("manifest does not record the label map:\n%s", man)
	}

	bad := filepath.Join(dir, "bad")
	for _, c := range []string{"zebra-ish", "not-a-class"} {
		os.MkdirAll(filepath.Join(bad, c), 0o755)
		os.Symlink(files[0], filepath.Join(bad, c, "x.JPEG"))
	}
	s, err := pipeline.LoadStudy(imagenetStudy(t, dir, filepath.Join(dir, "b"), "{kind: imagefolder, path: "+bad+"}"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Validate(s, cat); err != nil {
		t.Fatal(err)
	}
	_, err = pipeline.NewPlan(s, cat)
	if _, ok := pipeline.AsProblems(err); !ok || !strings.Contains(err.Error(), "does not map onto the model's label space imagenet1k") {
		t.Errorf("unmappable class folders: %v, want a problem naming both label spaces", err)
	}
}

// TestBatchMemoryEstimated: a batch size whose batches cannot fit in memory is a validate
// problem naming the key, not Go's fatal out-of-memory on 20 images.
func TestBatchMemoryEstimated(t *testing.T) {
	w := testenv.NewColourWorld(t)
	body := strings.Replace(readStudy(t, study(w, t, filepath.Join(t.TempDir(), "o"))), "batch_size: 4", "batch_size: 100000000", 1)
	p := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(p, []byte(body), 0o644)
	s, err := pipeline.LoadStudy(p, nil)
	if err == nil {
		err = pipeline.Validate(s, nil)
	}
	if err == nil || !strings.Contains(err.Error(), "execution.batch_size 100000000") || !strings.Contains(err.Error(), ":4:13:") {
		t.Errorf("a batch of 10⁸ 16×16 images: %v, want a problem at execution.batch_size (line 4)", err)
	}
}

// TestErrorsNameTheirSubjectOnce: a dataset problem names the dataset once (it used to say
// `dataset "d": load: dataset "d": …`).
func TestErrorsNameTheirSubjectOnce(t *testing.T) {
	w := testenv.NewColourWorld(t)
	empty := t.TempDir()
	body := strings.Replace(readStudy(t, study(w, t, filepath.Join(t.TempDir(), "o"))), "path: "+w.Data, "path: "+empty, 1)
	p := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(p, []byte(body), 0o644)
	s, err := pipeline.LoadStudy(p, nil)
	if err == nil {
		err = pipeline.Validate(s, nil)
	}
	if err == nil || strings.Count(err.Error(), `dataset "colours"`) != 1 {
		t.Errorf("an empty dataset folder: %v, want one problem naming the dataset once", err)
	}
}

// TestCorruptionNameAll: `name: all` in a swept corruption stage plans the 15 ImageNet-C
// corruptions (per severity); unswept, it is a problem that says to add the sweep.
func TestCorruptionNameAll(t *testing.T) {
	cat := testenv.Catalog(t, "runtimes/onnxruntime", "plugins/metrics/accuracy", "plugins/attacks/corruption")
	w := testenv.NewColourWorld(t)
	base := readStudy(t, study(w, t, filepath.Join(t.TempDir(), "o")))
	stage := `  - id: corrupted
    perturb: {input: images, attack: corruption, params: {name: [all], severity: [1, 3]}, sweep: [name, severity]}
  - id: cpreds
    infer: {input: corrupted}
`
	p := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(p, []byte(base+stage), 0o644)
	pl := plan(t, p, cat)
	n := 0
	names := map[string]bool{}
	for _, in := range pl.Instances {
		if in.Stage.ID == "corrupted" {
			n++
			names[fmt.Sprint(in.Params["name"])] = true
		}
	}
	if n != 30 || len(names) != 15 || names["all"] {
		t.Errorf("%d instances over %d names (%v), want 15 corruptions × 2 severities", n, len(names), names)
	}
	os.WriteFile(p, []byte(base+strings.Replace(stage, "name: [all], severity: [1, 3]}, sweep: [name, severity]", "name: all, severity: 1}", 1)), 0o644)
	s, err := pipeline.LoadStudy(p, nil)
	if err == nil {
		err = pipeline.Validate(s, cat)
	}
	if err == nil || !strings.Contains(err.Error(), "all stands for 15 values") {
		t.Errorf("unswept name: all: %v, want a problem saying to sweep", err)
	}
}

// TestRuntimeKeysAreThePlugins: the runtime keys of a study are checked against the parameters
// the runtime plugin declares (providers, threads, ...), not a list inside the pipeline.
func TestRuntimeKeysAreThePlugins(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	cases := []struct{ runtime, want string }{
		{"runtime: {providers: [cpu, npu]}", `"npu" is not one of tensorrt, cuda, cpu`},
		{"runtime: {threads: -2}", "runtime parameter \"threads\""},
		{"runtime: {threads: 2, providers: [cuda, cpu], fallback: true}", ""},
	}
	for _, c := range cases {
		body := strings.Replace(readStudy(t, study(w, t, filepath.Join(t.TempDir(), "o"))), "models:\n", c.runtime+"\nmodels:\n", 1)
		p := filepath.Join(t.TempDir(), "s.yaml")
		os.WriteFile(p, []byte(body), 0o644)
		s, err := pipeline.LoadStudy(p, nil)
		if err == nil {
			err = pipeline.Validate(s, cat)
		}
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want no problem", c.runtime, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want a problem containing %q", c.runtime, err, c.want)
		}
	}
}

// TestWhiteBoxAttackNeedsGradients: an attack that asks for gradients on a model without a
// gradient graph (the int8 MobileNetV2's QLinearConv) is a validate problem naming the op, not a
// failure after an hour of running.
func TestWhiteBoxAttackNeedsGradients(t *testing.T) {
	model := testenv.SharedData(t, "models", "mobilenetv2-12-int8", "model.onnx")
	cat := testenv.Catalog(t, "runtimes/onnxruntime", "plugins/metrics/accuracy", "plugins/attacks/pgd")
	w := testenv.NewColourWorld(t)
	body := fmt.Sprintf(`name: int8
output: %s
models:
  mobilenet: {path: %s, input: {size: 224, resize: 256, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}}
datasets:
  d: {kind: imagefolder, path: %s, labels: %s}
stages:
  - id: images
    load: {dataset: d}
  - id: adv
    perturb: {input: images, attack: pgd, params: {eps: 0.004, steps: 2}}
  - id: preds
    infer: {input: adv}
`, filepath.Join(t.TempDir(), "o"), model, w.Data, w.Labels)
	p := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(p, []byte(body), 0o644)
	s, err := pipeline.LoadStudy(p, nil)
	if err == nil {
		err = pipeline.Validate(s, cat)
	}
	if err == nil || !strings.Contains(err.Error(), `attack pgd needs the gradient of model "mobilenet"`) || !strings.Contains(err.Error(), "QLinearConv") {
		t.Errorf("PGD on the int8 model: %v, want a problem naming QLinearConv", err)
	}
}

// TestPathParameterMustExist: a path parameter naming nothing (frost's photographs) is a
// validate problem naming the parameter, not an error in the middle of the run.
func TestPathParameterMustExist(t *testing.T) {
	cat := testenv.Catalog(t, "runtimes/onnxruntime", "plugins/metrics/accuracy", "plugins/attacks/corruption")
	w := testenv.NewColourWorld(t)
	stage := `  - id: frosted
    perturb: {input: images, attack: corruption, params: {name: frost, severity: 1, frost_dir: no-such-folder}}
`
	p := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(p, []byte(readStudy(t, study(w, t, filepath.Join(t.TempDir(), "o")))+stage), 0o644)
	s, err := pipeline.LoadStudy(p, nil)
	if err == nil {
		err = pipeline.Validate(s, cat)
	}
	if err == nil || !strings.Contains(err.Error(), `parameter "frost_dir"`) || !strings.Contains(err.Error(), "no-such-folder does not exist") {
		t.Errorf("a missing frost folder: %v, want a problem naming frost_dir", err)
	}
}
