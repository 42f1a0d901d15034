// Package report renders a run's tidy results into figures (PNG and SVG, drawn with gonum/plot), a CSV
// file of the numbers behind each, and a self-contained index.html: a run header with links to the run's
// files, per analysis its headline numbers (with Wilson 95% intervals on proportions) apart from its
// diagnostics, and the figures with captions and tables.
package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// StageInfo describes one stage of the study: its id, kind (measure, aggregate, criticality, ...), plugin
// (the metric, attack or aggregate function it runs) and the figures its component declares.
type StageInfo struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Plugin string `json:"plugin,omitempty"`
	// Figures are the figures drawn from the stage's rows: the plugin's Info.Figures, the aggregate
	// function's Func.Figures or the stage kind's declared figures. None: the generic figure.
	Figures []sdk.Figure `json:"figures,omitempty"`
	// Metrics are what the component declares about its metrics (unit, meaning, headline).
	Metrics []sdk.MetricInfo `json:"metrics,omitempty"`
}

// dpi is the resolution of the PNG figures.
const dpi = 144

// Write renders the report of rows with a header read from the run directory around dir (see WriteRun).
func Write(dir string, stages []StageInfo, rows []arrowio.Result) error {
	return WriteRun(dir, Run{}, stages, rows)
}

// WriteRun renders into dir (created if needed) the figures the rows support, a CSV file of the
// numbers behind each, and index.html: the run header, per analysis its headline numbers apart from
// its diagnostics, and the figures with their tables. stages gives the study's stages in order; rows
// are the tidy results of the run.
func WriteRun(dir string, run Run, stages []StageInfo, rows []arrowio.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: create %s: %w", dir, err)
	}
	s := newStudy(rows)
	s.classes = run.Classes
	figs, notes, err := buildFigures(s, stages)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, f := range figs {
		if err := render(dir, f); err != nil {
			return fmt.Errorf("report: figure %s: %w", f.File, err)
		}
		data, err := csvOf(f.Data)
		if err != nil {
			return fmt.Errorf("report: figure %s: table: %w", f.File, err)
		}
		if err := writeFile(filepath.Join(dir, f.File+".csv"), data); err != nil {
			return fmt.Errorf("report: figure %s: %w", f.File, err)
		}
	}
	page, err := indexHTML(s, runHeader(run, dir, stages), stages, figs, notes)
	if err != nil {
		return fmt.Errorf("report: index.html: %w", err)
	}
	return writeFile(filepath.Join(dir, "index.html"), page)
}

// buildFigures makes every stage's figures, in stage order and in the order of the stage's hints; file
// names are unique. notes say which declared kinds are not registered.
func buildFigures(s *study, stages []StageInfo) (figs []Figure, notes []string, err error) {
	used := map[string]bool{}
	for _, st := range stages {
		rows := s.byStage[st.ID]
		if len(rows) == 0 {
			continue
		}
		hints := st.Figures
		known := 0
		for _, h := range hints {
			if _, ok := lookupFigure(h.Kind); ok {
				known++
			} else {
				notes = append(notes, fmt.Sprintf("Stage %s asks for a figure of kind %q, which this report does not draw (kinds: %s).",
					st.ID, h.Kind, strings.Join(FigureKinds(), ", ")))
			}
		}
		if known == 0 {
			hints = []sdk.Figure{{Kind: figureOverall}}
		}
		for _, h := range hints {
			b, ok := lookupFigure(h.Kind)
			if !ok {
				continue
			}
			out, err := b(&Stage{StageInfo: st, Rows: rows, Hint: h, study: s})
			if err != nil {
				return nil, nil, fmt.Errorf("stage %s (%s %s), figure %s: %w", st.ID, st.Kind, st.Plugin, h.Kind, err)
			}
			for _, f := range out {
				f.File = uniqueName(safeName(st.ID)+"-"+f.File, used)
				if f.Data == nil {
					for _, r := range rows {
						if len(f.Metrics) == 0 || slices.Contains(f.Metrics, r.Metric) {
							f.Data = append(f.Data, r)
						}
					}
				}
				f.Table = s.dataTable(f.Data)
				f.Stage = st.ID
				figs = append(figs, f)
			}
		}
	}
	return figs, notes, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// safeName keeps a stage id usable as a file name.
func safeName(s string) string {
	if s = unsafeChars.ReplaceAllString(s, "_"); s == "" || s[0] == '.' {
		s = "_" + s
	}
	return s
}

// uniqueName returns name, or name-2, name-3, ... when taken, and marks it used.
func uniqueName(name string, used map[string]bool) string {
	n := name
	for i := 2; used[n]; i++ {
		n = fmt.Sprintf("%s-%d", name, i)
	}
	used[n] = true
	return n
}

// render writes f as PNG and SVG into dir.
func render(dir string, f Figure) (err error) {
	defer func() {
		// gonum/plot panics on inputs it cannot draw; report it as this figure's error.
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing failed: %v", r)
		}
	}()
	img := vgimg.NewWith(vgimg.UseWH(f.W, f.H), vgimg.UseDPI(dpi))
	if err := f.Draw(draw.New(img)); err != nil {
		return err
	}
	var png bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&png); err != nil {
		return fmt.Errorf("encode PNG: %w", err)
	}
	svg := vgsvg.New(f.W, f.H)
	if err := f.Draw(draw.New(svg)); err != nil {
		return err
	}
	var svgBuf bytes.Buffer
	if _, err := svg.WriteTo(&svgBuf); err != nil {
		return fmt.Errorf("encode SVG: %w", err)
	}
	if err := writeFile(filepath.Join(dir, f.File+".png"), png.Bytes()); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, f.File+".svg"), svgBuf.Bytes())
}

// writeFile writes data to path through a temporary file and a rename, so a reader never sees half a file.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
