package report

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
)

// defaultStages are the stages of the repository's default study (pipeline.yaml), with the figures their
// built-in components declare: what the pipeline passes for testdata/goldens/libjpeg/pipeline.results.parquet.
func defaultStages() []StageInfo {
	var out []StageInfo
	for _, s := range [][3]string{
		{"images", "load", ""}, {"preds", "infer", ""}, {"acc", "measure", "accuracy"}, {"calibration", "measure", "calibration"},
		{"stimuli", "load", ""}, {"conflict_preds", "infer", ""}, {"shape", "measure", "shapebias"},
		{"probe", "load", ""}, {"probe_preds", "infer", ""}, {"acc_probe", "measure", "accuracy"},
		{"lowpassed", "perturb", "lowpass"}, {"lowpass_preds", "infer", ""}, {"acc_lowpass", "measure", "accuracy"},
		{"highpassed", "perturb", "highpass"}, {"highpass_preds", "infer", ""}, {"acc_highpass", "measure", "accuracy"},
		{"spectral", "aggregate", "spectralbias"},
		{"band_clean", "perturb", "criticalband"}, {"band_clean_preds", "infer", ""}, {"acc_band_clean", "measure", "accuracy"},
		{"band_noise", "perturb", "criticalband"}, {"band_noise_preds", "infer", ""}, {"acc_band_noise", "measure", "accuracy"},
		{"critical_band", "aggregate", "criticalband"},
		{"corrupted", "perturb", "corruption"}, {"corrupted_preds", "infer", ""}, {"acc_corrupted", "measure", "accuracy"},
		{"mce", "aggregate", "mce"},
		{"solarized", "perturb", "solarize"}, {"solarized_preds", "infer", ""}, {"acc_solarized", "measure", "accuracy"},
		{"solarization", "aggregate", "solarization"}, {"randsol", "perturb", "randsol"}, {"randsol_preds", "infer", ""},
		{"acc_randsol", "measure", "accuracy"}, {"criticality", "criticality", ""}, {"filters", "filters", ""},
	} {
		out = append(out, stage(s[0], s[1], s[2]))
	}
	return out
}

// goldenRun lays out a run directory around the default study's committed results (results.parquet,
// manifest.json, run.json, a tables/ folder) and writes its report; it returns the report directory.
func goldenRun(t *testing.T) (reportDir string, rows []arrowio.Result) {
	t.Helper()
	golden := filepath.Join(testenv.Root(t), "testdata", "goldens", "libjpeg", "pipeline.results.parquet")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows, err := pqfile.ReadResults(golden, mem)
	if err != nil {
		t.Fatal(err)
	}
	run := t.TempDir()
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	finished := started.Add(47 * time.Second)
	manifest := `{"tool": {"name": "vistudy", "version": "test"}, "study": {"file": "pipeline.yaml", "name": "default", "seed": 1},` +
		`"results": ` + itoa(len(rows)) + `, "errors": 0, "finished": "` + finished.Format(time.RFC3339) + `"}`
	for name, body := range map[string]string{resultsFile: string(data), manifestFile: manifest,
		runFile: `{"created": "` + started.Format(time.RFC3339) + `"}`} {
		if err := os.WriteFile(filepath.Join(run, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []string{"preds", "acc", "shape"} {
		if err := os.MkdirAll(filepath.Join(run, tablesDir, st), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hdr, err := ReadRun(run)
	if err != nil {
		t.Fatal(err)
	}
	hdr.Classes = 8 // zoo/models/labels.txt
	reportDir = filepath.Join(run, "report")
	if err := WriteRun(reportDir, hdr, defaultStages(), rows); err != nil {
		t.Fatal(err)
	}
	return reportDir, rows
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestGoldenReport checks the page of the default study's results: the header, the links, one
// definition of shape bias, chance lines, a failed fit's reason.
func TestGoldenReport(t *testing.T) {
	dir, rows := goldenRun(t)
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, s := range []string{"default — vistudy report", "seed 1", "<dd>test</dd>", "47s (wall clock", "inputs skipped</dt><dd>none",
		`href="../results.parquet"`, `href="../manifest.json"`, `href="../tables/acc/"`, `href="../tables/shape/"`,
		`id="table-shape"`, `id="table-critical_band"`, `id="table-mce"`, `src="mce-heatmap-ce.png"`, "Diagnostics of shape", "Geirhos et al.", "Dashed: chance, 1/8 (8 classes).", "Chance (k/8 for top-k, 8 classes): top1 0.1250, top2 0.2500.",
		"fit failed: all thresholds are 0"} {
		if !strings.Contains(html, s) {
			t.Errorf("index.html does not contain %q", s)
		}
	}
	if strings.Contains(html, `href="../errors.parquet"`) {
		t.Errorf("index.html links errors.parquet, which this run directory lacks")
	}
	// Every relative link and image resolves to a file of the run directory.
	for _, m := range regexp.MustCompile(`(?:href|src)="([^"#:]+)"`).FindAllStringSubmatch(html, -1) {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(m[1]))); err != nil {
			t.Errorf("index.html links %s: %v", m[1], err)
		}
	}
	// Shape bias: the table's number is the pooled one, and the figure's CSV has the same rows.
	for _, r := range rows {
		if r.Stage == "shape" && r.Metric == "shape_bias" && r.Group == "" {
			if !strings.Contains(html, formatValue(r.Value)) {
				t.Errorf("index.html lacks %s's pooled shape bias %s", r.Model, formatValue(r.Value))
			}
		}
	}
	csvData, err := os.ReadFile(filepath.Join(dir, "shape-shapebias.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(csvData), "model,stage,metric,group,category,value,n,ci95_low,ci95_high\n") {
		t.Errorf("shape-shapebias.csv header: %q", strings.SplitN(string(csvData), "\n", 2)[0])
	}
}

// chromium finds the Debian chromium binary, installing it with apt-get when missing; the test is
// skipped, saying why, where neither works.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testing.Short() {
		t.Skip("chromium is not installed (apt-get install chromium); -short does not install it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "chromium")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("chromium is not installed and apt-get could not install it (%v): %s", err, lastLines(string(out), 3))
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skipf("apt-get installed chromium but it is not on PATH: %v", err)
	}
	return p
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// checkScript writes, once every image has loaded or failed, the page's measurements into the DOM as
// JSON: each image's natural width and the document's scroll width.
const checkScript = `<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.map.call(document.images, function (i) {
    return {src: i.getAttribute("src"), w: i.naturalWidth, shown: i.getBoundingClientRect().width};
  });
  var out = document.createElement("pre");
  out.id = "vistudy-check";
  out.textContent = JSON.stringify({images: imgs, scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth});
  document.body.appendChild(out);
});
</script>`

// TestReportInChromium renders the default study's report in headless Chromium at 1400 px: every
// figure loads, and nothing is wider than the window.
func TestReportInChromium(t *testing.T) {
	bin := chromium(t)
	dir, _ := goldenRun(t)
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	// The report itself carries no script; a copy next to it does the measuring.
	probe := filepath.Join(dir, "index-check.html")
	if err := os.WriteFile(probe, []byte(strings.Replace(string(page), "</body>", checkScript+"</body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--window-size=1400,1000", "--virtual-time-budget=10000", "--dump-dom",
		"file://"+probe)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := regexp.MustCompile(`(?s)<pre id="vistudy-check">(.*?)</pre>`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("chromium's DOM has no measurements; the check script did not run:\n%s", lastLines(string(out), 5))
	}
	var got struct {
		Images []struct {
			Src   string  `json:"src"`
			W     int     `json:"w"`
			Shown float64 `json:"shown"`
		} `json:"images"`
		ScrollWidth int `json:"scrollWidth"`
		ClientWidth int `json:"clientWidth"`
	}
	if err := json.Unmarshal([]byte(unescapeHTML(string(m[1]))), &got); err != nil {
		t.Fatalf("measurements %q: %v", m[1], err)
	}
	if len(got.Images) < 10 {
		t.Errorf("the page shows %d images, want the default study's 10 or more figures", len(got.Images))
	}
	for _, img := range got.Images {
		if img.W <= 0 {
			t.Errorf("image %s did not load (naturalWidth %d)", img.Src, img.W)
		}
		if img.Shown > 1400 {
			t.Errorf("image %s is shown %.0f px wide, wider than the window", img.Src, img.Shown)
		}
	}
	if got.ClientWidth != 1400 {
		t.Errorf("window width %d, want 1400 (the --window-size)", got.ClientWidth)
	}
	if got.ScrollWidth > 1400 {
		t.Errorf("the page overflows horizontally: scrollWidth %d > 1400", got.ScrollWidth)
	}
}

// unescapeHTML undoes the escaping of a text node in --dump-dom's output.
func unescapeHTML(s string) string {
	return strings.NewReplacer("&quot;", `"`, "&lt;", "<", "&gt;", ">", "&#39;", "'", "&amp;", "&").Replace(s)
}
