package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/sdk"
)

var categories = []string{"airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock",
	"dog", "elephant", "keyboard", "knife", "oven", "truck"}

// builtinFigures are the figures the built-in components declare, by stage kind and plugin, as the
// pipeline passes them in StageInfo.Figures (TestBuiltinFigures checks them against the declarations).
var builtinFigures = map[[2]string][]sdk.Figure{
	{"measure", "accuracy"}:       {{Kind: sdk.FigureSweep, Metric: "top1", Label: "top-1 accuracy"}},
	{"measure", "calibration"}:    {{Kind: sdk.FigureReliability}},
	{"measure", "shapebias"}:      {{Kind: "shapebias"}},
	{"aggregate", "spectralbias"}: {{Kind: "spectral"}},
	{"aggregate", "criticalband"}: {{Kind: "criticalband"}},
	{"aggregate", "solarization"}: {{Kind: sdk.FigureNone}},
	{"aggregate", "mce"}: {{Kind: sdk.FigureHeatmap, Metric: "accuracy", Label: "accuracy per corruption"},
		{Kind: sdk.FigureHeatmap, Metric: "cell_accuracy", Label: "accuracy"},
		{Kind: sdk.FigureSweep, Metric: "severity_accuracy", Label: "accuracy (mean over corruptions)"},
		{Kind: sdk.FigureHeatmap, Metric: "ce", Label: "corruption error"},
		{Kind: sdk.FigureBars, Metric: "mce", Label: "mCE"}},
	{"criticality", ""}: {{Kind: "criticality"}, {Kind: "criticality-heatmap"}},
	{"filters", ""}:     {{Kind: "filters"}, {Kind: "divergence"}},
}

// builtinMetrics are the metric declarations of the built-in components, as far as the report
// reads them (name, order, diagnostic): what the pipeline passes from each Info.Metrics or kind.
var builtinMetrics = map[[2]string][]sdk.MetricInfo{
	{"measure", "accuracy"}: metricDecls("top1", "top*", "-unlabelled"),
	{"measure", "calibration"}: metricDecls("ece", "mce", "nll", "brier", "overconfidence", "-underconfidence", "accuracy",
		"-mean_confidence", "-unlabelled", "-bin_count", "-bin_accuracy", "-bin_confidence", "-bin_lower", "-bin_upper"),
	{"measure", "shapebias"}: metricDecls("shape_bias", "cue_accuracy", "-shape_fraction", "-texture_fraction", "-other_fraction",
		"-*_count", "-excluded", "-shape_bias_undefined", "-unlabelled"),
	{"aggregate", "spectralbias"}: metricDecls("spectral_bias", "lpp", "hpp", "-*_ratio"),
	{"aggregate", "criticalband"}: metricDecls("bandwidth", "center_frequency", "peak_noise_sensitivity", "-threshold", "fit_failed", "-fit_*"),
	{"aggregate", "solarization"}: metricDecls("min_accuracy", "argmin_threshold", "accuracy_drop"),
	{"aggregate", "mce"}:          metricDecls("mce", "relative_mce", "mean_accuracy", "ce", "relative_ce", "accuracy", "severity_accuracy", "cell_accuracy"),
	{"criticality", ""}: metricDecls("criticality", "-criticality_max", "-layers", "-cosine", "-l1", "-l2", "-top1_reset", "-top5_reset",
		"-top1_original", "-top5_original", "-recovered_accuracy", "-nonfinite_outputs", "-*_undefined"),
	{"filters", ""}: metricDecls("sparsity", "variance_entropy", "variance_entropy_nonsparse", "orthogonality", "filters",
		"divergence", "explained_variance", "-*_undefined"),
}

// metricDecls declares metrics by name; a leading "-" marks a diagnostic.
func metricDecls(names ...string) []sdk.MetricInfo {
	out := make([]sdk.MetricInfo, len(names))
	for i, n := range names {
		out[i] = sdk.MetricInfo{Name: strings.TrimPrefix(n, "-"), Diagnostic: strings.HasPrefix(n, "-")}
	}
	return out
}

// stage is a StageInfo with the figures and metrics its built-in component declares (none for others).
func stage(id, kind, plugin string) StageInfo {
	k := [2]string{kind, plugin}
	return StageInfo{ID: id, Kind: kind, Plugin: plugin, Figures: builtinFigures[k], Metrics: builtinMetrics[k]}
}

// fakeStudy is two models' rows for every stage kind the report draws, with hand-made values.
func fakeStudy() ([]StageInfo, []arrowio.Result) {
	stages := []StageInfo{
		stage("acc", "measure", "accuracy"), stage("shape", "measure", "shapebias"), stage("lp", "measure", "accuracy"),
		stage("spectral", "aggregate", "spectralbias"), stage("cb", "aggregate", "criticalband"), stage("calib", "measure", "calibration"),
		stage("sol", "measure", "accuracy"), stage("crit", "criticality", ""), stage("filt", "filters", ""), stage("images", "load", ""),
	}
	var rows []arrowio.Result
	add := func(model, stage, metric, group string, v float64, n int64) {
		rows = append(rows, arrowio.Result{Model: model, Stage: stage, Metric: metric, Group: group, Value: v, N: n})
	}
	models := []string{"resnet50", "vit_b16"}
	for i, m := range models {
		k := float64(i)
		add(m, "acc", "top1", "", 0.7612+0.05*k, 500)
		add(m, "acc", "top5", "", 0.9285+0.01*k, 500)
		sum := 0.0
		for j, c := range categories {
			v := 0.15 + 0.4*k + 0.02*float64(j)
			sum += v
			add(m, "shape", "shape_bias", "category="+c, v, 75)
		}
		add(m, "shape", "shape_bias", "", sum/16, 1200)
		for _, c := range []float64{0.01, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99} {
			g := "c=" + fmt.Sprint(c)
			lowR, highR := math.Min(1, c*(1.5-0.5*k)), math.Max(0, 0.9-c-0.2*k)
			add(m, "lp", "top1", g, lowR*0.7, 500)
			add(m, "spectral", "lowpass_ratio", g, lowR, 500)
			add(m, "spectral", "highpass_ratio", g, highR, 500)
		}
		add(m, "spectral", "lpp", "", 0.4, 500)
		add(m, "spectral", "hpp", "", 0.5-0.2*k, 500)
		add(m, "spectral", "spectral_bias", "", (0.5-0.2*k)/(0.9-0.2*k), 500)
		for f := range 7 {
			add(m, "cb", "threshold", fmt.Sprintf("band=%d", f), [][]float64{{0, 1, 2, 3, 2, 1, 0}, {0, 0, 0, 0, 0, 1, 0}}[i][f], 50)
		}
		for b := range 15 {
			conf := (float64(b) + 0.5) / 15
			add(m, "calib", "bin_accuracy", fmt.Sprintf("bin=%02d", b), math.Max(0, conf-0.1*k-0.05), 30)
			add(m, "calib", "bin_confidence", fmt.Sprintf("bin=%02d", b), conf, 30)
			add(m, "calib", "bin_count", fmt.Sprintf("bin=%02d", b), 30, 30)
		}
		add(m, "calib", "ece", "", 0.05+0.1*k, 450)
		for t := 0; t <= 10; t++ {
			add(m, "sol", "top1", fmt.Sprintf("threshold=%g", float64(t)/10), 0.7-0.5*math.Sin(math.Pi*float64(t)/10)*(1-0.5*k), 500)
		}
		for l, layer := range []string{"conv1", "layer1.0.conv1", "layer2.0.conv1", "layer3.0.conv1", "layer4.0.conv1", "fc"} {
			g := fmt.Sprintf("layer=%s,depth=%g", layer, float64(l)/5)
			add(m, "crit", "criticality", g, 40-6*float64(l)+10*k, 100)
			add(m, "filt", "sparsity", g, 0.05*float64(l)+0.1*k, 0)
			add(m, "filt", "variance_entropy", g, 0.9-0.03*float64(l), 0)
			add(m, "filt", "orthogonality", g, 0.6+0.05*float64(l)-0.1*k, 0)
		}
		add(m, "crit", "criticality", "", 25+10*k, 100)
		for j, o := range models {
			add(m, "filt", "divergence", "other="+o, math.Abs(float64(i-j))*0.37, 0)
		}
	}
	for _, r := range []struct {
		m      string
		metric string
		v      float64
	}{{"resnet50", "fit_a", 2.893}, {"resnet50", "fit_mu", 3}, {"resnet50", "fit_sigma", 1.2703},
		{"resnet50", "bandwidth", 2 * math.Sqrt(math.Log(4)) * 1.2703}, {"resnet50", "center_frequency", 14},
		{"resnet50", "peak_noise_sensitivity", math.Exp2(2.893 - 4)}, {"resnet50", "fit_rmse", 0.15}} {
		add(r.m, "cb", r.metric, "", r.v, 50)
	}
	add("vit_b16", "cb", "fit_failed", "reason=sigma collapsed to 0.144 (narrower than the band spacing resolves)", 1, 50)
	return stages, rows
}

// wantFigures are the files the fake study must produce (without extension).
var wantFigures = []string{"shape-shapebias", "lp-sweep-c", "spectral-spectral", "cb-criticalband", "calib-reliability",
	"sol-solarization", "crit-criticality", "crit-criticality-heatmap", "filt-filters", "filt-divergence"}

func TestWrite(t *testing.T) {
	stages, rows := fakeStudy()
	dir := t.TempDir()
	if err := Write(dir, stages, rows); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"index.html"}
	for _, f := range wantFigures {
		want = append(want, f+".png", f+".svg", f+".csv")
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("files:\ngot  %v\nwant %v", got, want)
	}
	blue, orange := palette10[0], palette10[1] // resnet50, vit_b16
	for _, f := range wantFigures {
		img := decodePNG(t, filepath.Join(dir, f+".png"))
		b := img.Bounds()
		if b.Dx() < 600 || b.Dy() < 400 || b.Dx() > 5000 || b.Dy() > 5000 {
			t.Errorf("%s.png is %dx%d pixels", f, b.Dx(), b.Dy())
		}
		if f != "crit-criticality-heatmap" && f != "filt-divergence" {
			// Both models are drawn in their own colours.
			for _, c := range []color.RGBA{blue, orange} {
				if n := countColour(img, c); n < 20 {
					t.Errorf("%s.png has %d pixels of model colour %v", f, n, c)
				}
			}
		}
		checkSVG(t, filepath.Join(dir, f+".svg"))
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, s := range append([]string{"resnet50", "vit_b16", `<th>top1</th>`, "0.7612", "0.8112", "0.3000", "n=500", `id="table-acc"`,
		"fit failed: sigma collapsed to 0.144", "[0.722, 0.796]"}, wantFigures...) {
		if !strings.Contains(html, s) {
			t.Errorf("index.html does not contain %q", s)
		}
	}
	for _, f := range wantFigures {
		for _, s := range []string{`src="` + f + `.png"`, `href="` + f + `.svg"`, `href="` + f + `.csv"`} {
			if !strings.Contains(html, s) {
				t.Errorf("index.html does not reference %s", s)
			}
		}
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") || strings.Contains(html, "<script") {
		t.Errorf("index.html is not self-contained")
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	stages, rows := fakeStudy()
	a, b := t.TempDir(), t.TempDir()
	if err := Write(a, stages, rows); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(rows) // the row order must not matter either
	if err := Write(b, stages, rows); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		x, errA := os.ReadFile(filepath.Join(a, e.Name()))
		y, errB := os.ReadFile(filepath.Join(b, e.Name()))
		if errA != nil || errB != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two writes (%v, %v)", e.Name(), errA, errB)
		}
	}
}

func TestWriteEscapes(t *testing.T) {
	model, stageID := `<img src=x onerror=alert(1)>`, `acc"&<b>`
	rows := []arrowio.Result{{Model: model, Stage: stageID, Metric: "top1", Value: 0.5, N: 3},
		{Model: model, Stage: stageID, Metric: "top1", Group: "sd=0.1", Value: 0.25, N: 3},
		{Model: model, Stage: stageID, Metric: "top1", Group: "sd=0.2", Value: 0.125, N: 3}}
	dir := t.TempDir()
	if err := Write(dir, []StageInfo{stage(stageID, "measure", "accuracy")}, rows); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	if strings.Contains(html, model) || strings.Contains(html, "<b>") {
		t.Errorf("index.html contains an unescaped name:\n%s", html)
	}
	for _, s := range []string{"&lt;img src=x onerror=alert(1)&gt;", "acc&#34;&amp;&lt;b&gt;", `src="acc_b_-sweep-sd.png"`} {
		if !strings.Contains(html, s) {
			t.Errorf("index.html does not contain %q", s)
		}
	}
	decodePNG(t, filepath.Join(dir, "acc_b_-sweep-sd.png"))
}

func TestWriteWithoutFigures(t *testing.T) {
	dir := t.TempDir()
	rows := []arrowio.Result{{Model: "m", Stage: "acc", Metric: "top1", Value: 0.123456, N: 7}}
	if err := Write(dir, []StageInfo{stage("acc", "measure", "accuracy")}, rows); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"0.1235", "n=7", "No stage of this run"} {
		if !strings.Contains(string(page), s) {
			t.Errorf("index.html does not contain %q", s)
		}
	}
}

func TestAnalysisTables(t *testing.T) {
	stages := []StageInfo{stage("b", "measure", "accuracy"), stage("a", "aggregate", "criticalband")}
	rows := []arrowio.Result{
		{Model: "m2", Stage: "a", Metric: "bandwidth", Value: 1.23456789, N: 50},
		{Model: "m2", Stage: "a", Metric: "fit_sigma", Value: 0.5, N: 50},
		{Model: "m1", Stage: "a", Metric: "fit_failed", Group: "reason=all thresholds are 0", Value: 1, N: 50},
		{Model: "m1", Stage: "b", Metric: "top1", Value: 0.5, N: 10},
		{Model: "m2", Stage: "b", Metric: "top1", Value: 123456, N: 10},
		{Model: "m1", Stage: "b", Metric: "top1", Group: "c=0.1", Value: 0.9, N: 10}, // not overall
		{Model: "m1", Stage: "b", Metric: "unlabelled", Value: 2, N: 2},
		{Model: "m3", Stage: "z", Metric: "extra", Value: math.NaN(), N: 1},
		{Model: "m3", Stage: "z", Metric: "shape_count", Value: 1200, N: 0},
	}
	got := analysisTables(newStudy(rows), stages)
	want := []analysisTable{
		{Stage: "b", Component: "measure accuracy",
			Headline: numTable{Columns: []string{"top1"}, Rows: []numRow{
				{"m1", []cell{{Value: "0.5000", CI: "[0.237, 0.763]", N: "n=10"}}},
				{"m2", []cell{{Value: "1.235e+05", N: "n=10"}}}}},
			Diagnostics: numTable{Columns: []string{"unlabelled"}, Rows: []numRow{{"m1", []cell{{Value: "2.000", N: "n=2"}}}}}},
		{Stage: "a", Component: "aggregate criticalband",
			Headline: numTable{Columns: []string{"bandwidth", "fit_failed"}, Rows: []numRow{
				{"m1", []cell{{Value: "—"}, {Value: "fit failed: all thresholds are 0", Failed: true}}},
				{"m2", []cell{{Value: "1.235", N: "n=50"}, {Value: "—"}}}}},
			Diagnostics: numTable{Columns: []string{"fit_sigma"}, Rows: []numRow{{"m2", []cell{{Value: "0.5000", N: "n=50"}}}}}},
		{Stage: "z", Component: "",
			Headline:    numTable{Columns: []string{"extra"}, Rows: []numRow{{"m3", []cell{{Value: "NaN", N: "n=1"}}}}},
			Diagnostics: numTable{Columns: []string{"shape_count"}, Rows: []numRow{{"m3", []cell{{Value: "1200"}}}}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tables\ngot  %+v\nwant %+v", got, want)
	}
}

// TestWilson checks the interval against scipy.stats.binomtest(k, n).proportion_ci(method="wilson"),
// run outside the repository.
func TestWilson(t *testing.T) {
	for _, c := range []struct {
		k, n   int64
		lo, hi float64
	}{
		{5, 10, 0.236593090512564, 0.7634069094874361},
		{0, 10, 0, 0.27753279986288926},
		{10, 10, 0.7224672001371109, 1},
		{340, 400, 0.8116863892693679, 0.8816550046966246},
		{153, 460, 0.29109599339289394, 0.37689401252089105},
	} {
		lo, hi := wilson(float64(c.k)/float64(c.n), c.n)
		if math.Abs(lo-c.lo) > 1e-12 || math.Abs(hi-c.hi) > 1e-12 {
			t.Errorf("wilson(%d/%d) = [%v, %v], want [%v, %v]", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
	if lo, hi := wilson(0.5, 0); !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Errorf("wilson with n = 0: [%v, %v], want NaN", lo, hi)
	}
}

func TestChanceLevel(t *testing.T) {
	for _, c := range []struct {
		metric  string
		classes int
		want    float64
		ok      bool
	}{{"top1", 8, 0.125, true}, {"top2", 8, 0.25, true}, {"top5", 3, 1, true}, {"top1", 0, 0, false}, {"ece", 8, 0, false}, {"top1_reset", 8, 0, false}} {
		got, ok := chanceLevel(c.metric, c.classes)
		if got != c.want || ok != c.ok {
			t.Errorf("chanceLevel(%q, %d) = %v, %v; want %v, %v", c.metric, c.classes, got, ok, c.want, c.ok)
		}
	}
}

// decodePNG decodes path as PNG or fails the test.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// countColour counts the pixels of exactly colour c.
func countColour(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bl>>8) == c.B {
				n++
			}
		}
	}
	return n
}

// checkSVG parses path as XML with an <svg> root.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", path, root)
	}
}

func TestWriteEdgeCases(t *testing.T) {
	var rows []arrowio.Result
	add := func(model, stage, metric, group string, v float64, n int64) {
		rows = append(rows, arrowio.Result{Model: model, Stage: stage, Metric: metric, Group: group, Value: v, N: n})
	}
	// 13 models: colours repeat from the eleventh on, so markers and dashes must differ.
	for i := range 13 {
		m := fmt.Sprintf("model%02d", i)
		for _, sd := range []float64{0, 0.1, 0.2} {
			add(m, "noise", "top1", fmt.Sprintf("sd=%g", sd), 0.8-float64(i)*0.01-sd, 100)
		}
	}
	// Criticality with a layer missing for one model and every value equal (a one-value colour scale).
	add("a", "crit", "criticality", "layer=conv1,depth=0", 5, 10)
	add("a", "crit", "criticality", "layer=fc,depth=1", 5, 10)
	add("b", "crit", "criticality", "layer=conv1,depth=0", 5, 10)
	// Calibration with empty bins and no ECE row; shape bias with a NaN category.
	add("a", "calib", "bin_accuracy", "bin=00", 0, 0)
	add("a", "calib", "bin_count", "bin=00", 0, 0)
	add("a", "calib", "bin_accuracy", "bin=09", 0.9, 10)
	add("a", "calib", "bin_confidence", "bin=09", 0.95, 10)
	add("a", "calib", "bin_count", "bin=09", 10, 10)
	add("a", "shape", "shape_bias", "category=cat", math.NaN(), 0)
	add("a", "shape", "shape_bias", "category=dog", 0.4, 10)
	// A stage of a kind without figures.
	add("a", "other", "something", "x=1", 1, 1)
	stages := []StageInfo{stage("noise", "measure", "accuracy"), stage("crit", "criticality", ""), stage("calib", "measure", "calibration"),
		stage("shape", "measure", "shapebias"), stage("other", "measure", "mystery")}
	dir := t.TempDir()
	if err := Write(dir, stages, rows); err != nil {
		t.Fatal(err)
	}
	figs := []string{"noise-sweep-sd", "crit-criticality", "crit-criticality-heatmap", "calib-reliability", "shape-shapebias"}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 3*len(figs)+1 {
		t.Errorf("want %d figures (PNG + SVG + CSV) and index.html, got %d files (%v)", len(figs), len(entries), err)
	}
	for _, f := range figs {
		img := decodePNG(t, filepath.Join(dir, f+".png"))
		if f == "noise-sweep-sd" && float64(img.Bounds().Dy()) < float64(legendHeight(13))/72*dpi-1 {
			t.Errorf("%s: %d pixels high, too short for a 13-entry legend", f, img.Bounds().Dy())
		}
		checkSVG(t, filepath.Join(dir, f+".svg"))
	}
	if l0, l10 := lookOf(0), lookOf(10); l0.Color != l10.Color || l0.Glyph.Shape == l10.Glyph.Shape || slices.Equal(l0.Line.Dashes, l10.Line.Dashes) {
		t.Errorf("models 0 and 10 share a colour, so their markers and dashes must differ: %+v %+v", l0, l10)
	}
}

// TestStageInfoJSON: stages survive manifest.json (so `vistudy report` redraws the declared figures),
// under the manifest's lower-case keys.
func TestStageInfoJSON(t *testing.T) {
	in := []StageInfo{{ID: "acc", Kind: "measure", Plugin: "accuracy", Figures: []sdk.Figure{{Kind: sdk.FigureSweep, Metric: "top1", Label: "top-1 accuracy"}}},
		{ID: "crit", Kind: "criticality", Figures: []sdk.Figure{{Kind: "criticality"}}}, {ID: "images", Kind: "load"}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"id":"acc","kind":"measure","plugin":"accuracy","figures":[{"kind":"sweep","metric":"top1","label":"top-1 accuracy"}]},` +
		`{"id":"crit","kind":"criticality","figures":[{"kind":"criticality"}]},{"id":"images","kind":"load"}]`
	if string(data) != want {
		t.Errorf("JSON\n%s\nwant\n%s", data, want)
	}
	var out []StageInfo
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out) != fmt.Sprint(in) {
		t.Errorf("round trip %+v, want %+v", out, in)
	}
}
