package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vistudy/vistudy/stages/labels"
)

// Run is what the report's header says about the run: which study, when, how long, and what was skipped.
// Zero fields are shown as unknown; the run directory's files are found on disk.
type Run struct {
	Study    string    // the study's name
	File     string    // the study file
	Seed     uint64    // the study's seed
	Version  string    // the vistudy build
	Started  time.Time // when the run directory was created (zero: read from run.json)
	Finished time.Time // when the results were written
	Results  int       // rows of results.parquet
	Skipped  int       // inputs skipped (rows of errors.parquet)
	// Classes is the number of classes the models predict among, when every model shares one (0: unknown);
	// accuracy sweeps draw chance (k/Classes for top-k) from it.
	Classes int
	// Dir is the run directory; "" means the report directory's parent.
	Dir string
}

// The run directory's files the header links to (the pipeline's names).
const (
	resultsFile  = "results.parquet"
	resultsCSV   = "results.csv"
	metricsFile  = "metrics.parquet"
	summaryFile  = "summary.json"
	errorsFile   = "errors.parquet"
	manifestFile = "manifest.json"
	runFile      = "run.json"
	tablesDir    = "tables"
)

// ReadRun fills a Run from a finished run directory's manifest.json and run.json (what `vistudy report`
// redraws from); fields those files lack stay zero.
func ReadRun(dir string) (Run, error) {
	run := Run{Dir: dir}
	data, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return run, fmt.Errorf("report: read run header: %w", err)
	}
	var m struct {
		Tool struct {
			Version string `json:"version"`
		} `json:"tool"`
		Study struct {
			File string `json:"file"`
			Name string `json:"name"`
			Seed uint64 `json:"seed"`
		} `json:"study"`
		Results  int       `json:"results"`
		Errors   int       `json:"errors"`
		Finished time.Time `json:"finished"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return run, fmt.Errorf("report: read run header %s: %w", filepath.Join(dir, manifestFile), err)
	}
	run.Study, run.File, run.Seed, run.Version = m.Study.Name, m.Study.File, m.Study.Seed, m.Tool.Version
	run.Results, run.Skipped, run.Finished = m.Results, m.Errors, m.Finished
	run.Started = startedAt(dir)
	return run, nil
}

// startedAt is run.json's creation time, zero when it cannot be read.
func startedAt(dir string) time.Time {
	data, err := os.ReadFile(filepath.Join(dir, runFile))
	if err != nil {
		return time.Time{}
	}
	var r struct {
		Created time.Time `json:"created"`
	}
	if json.Unmarshal(data, &r) != nil {
		return time.Time{}
	}
	return r.Created
}

// header is the run header as index.html shows it.
type header struct {
	Study, File, Seed, Version, Finished, Duration, Skipped string
	SkippedHref                                             string // errors.parquet, relative, when inputs were skipped
	Links                                                   []link
	Tables                                                  []link // tables/<stage>/ folders
}

// link is a file of the run directory, relative to the report.
type link struct {
	Name, Href, Note string
}

// runHeader formats run for the page; reportDir is where index.html goes. Links go to the run
// directory's files that exist (manifest.json always: the pipeline writes it right after the report)
// and to each stage's folder under tables/.
func runHeader(run Run, reportDir string, stages []StageInfo) header {
	dir := run.Dir
	if dir == "" {
		dir = filepath.Dir(filepath.Clean(reportDir))
	}
	if run.Started.IsZero() {
		run.Started = startedAt(dir)
	}
	rel := func(name string) string {
		abs, err1 := filepath.Abs(filepath.Join(dir, name))
		from, err2 := filepath.Abs(reportDir)
		if err1 != nil || err2 != nil {
			return filepath.ToSlash(filepath.Join(dir, name))
		}
		r, err := filepath.Rel(from, abs)
		if err != nil {
			return filepath.ToSlash(abs)
		}
		return filepath.ToSlash(r)
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	h := header{Study: orUnknown(run.Study), File: orUnknown(run.File), Seed: fmt.Sprint(run.Seed), Version: orUnknown(run.Version),
		Finished: "unknown", Duration: "unknown"}
	if !run.Finished.IsZero() {
		h.Finished = run.Finished.UTC().Format("2006-01-02 15:04:05 MST")
	}
	if !run.Started.IsZero() && !run.Finished.IsZero() && run.Finished.After(run.Started) {
		h.Duration = formatDuration(run.Finished.Sub(run.Started)) + " (wall clock, from the run directory's creation)"
	}
	switch run.Skipped {
	case 0:
		h.Skipped = "none"
	default:
		h.Skipped = fmt.Sprintf("%d (why each was skipped: %s)", run.Skipped, errorsFile)
		h.SkippedHref = rel(errorsFile)
	}
	if exists(resultsFile) || run.Results > 0 {
		h.Links = append(h.Links, link{resultsFile, rel(resultsFile), "every number of this page, tidy (model, stage, metric, group, value, n, a typed column per group key)"})
	}
	for _, f := range []struct{ name, note string }{
		{resultsCSV, "the same table as CSV"},
		{metricsFile, "what each metric means: unit, range, which way is better"},
		{summaryFile, "the leaderboard (vistudy summary): a row per model, a column per headline number"},
	} {
		if exists(f.name) {
			h.Links = append(h.Links, link{f.name, rel(f.name), f.note})
		}
	}
	if exists(errorsFile) {
		h.Links = append(h.Links, link{errorsFile, rel(errorsFile), fmt.Sprintf("inputs skipped: %d", run.Skipped)})
	}
	h.Links = append(h.Links, link{manifestFile, rel(manifestFile), "models, plugins and datasets with their hashes"})
	for _, st := range stages {
		name := tablesDir + "/" + st.ID
		if exists(name) {
			h.Tables = append(h.Tables, link{name + "/", rel(name) + "/", "per-sample tables of stage " + st.ID})
		}
	}
	return h
}

// orUnknown is s, or "unknown" when empty.
func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "unknown"
	}
	return s
}

// formatDuration writes d rounded to seconds as 1h02m03s, 2m03s or 3s.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// SharedClasses is the number of classes of the label spaces specs (names or files, resolved against
// dir) when all of them have the same number, else 0 (unknown: no chance lines).
func SharedClasses(dir string, specs ...string) int {
	n := 0
	for _, spec := range specs {
		sp, err := labels.Resolve(spec, dir)
		if err != nil || sp.Len() == 0 || n != 0 && sp.Len() != n {
			return 0
		}
		n = sp.Len()
	}
	return n
}
