// Package report renders a run's tidy results into figures (PNG and SVG, drawn with gonum/plot) and a
// self-contained index.html: a summary table of every overall value and the figures with captions.
package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/vistudy/vistudy/arrowio"
)

// StageInfo describes one stage of the study: its id, kind (measure, aggregate, criticality, ...) and
// plugin (the metric, attack or aggregate function it runs).
type StageInfo struct {
	ID, Kind, Plugin string
}

// The stage kinds the report knows figures for (the pipeline's names).
const (
	kindMeasure     = "measure"
	kindAggregate   = "aggregate"
	kindCriticality = "criticality"
	kindFilters     = "filters"
)

// dpi is the resolution of the PNG figures.
const dpi = 144

// figure is one chart, drawn once per output format.
type figure struct {
	File    string // base file name, without extension
	Title   string // heading in index.html
	Caption string // how it was computed, one line
	W, H    vg.Length
	Draw    func(dc draw.Canvas) error
}

// Write renders the figures the rows support and index.html into dir (created if needed). stages gives
// the study's stages in order; rows are the tidy results of the run.
func Write(dir string, stages []StageInfo, rows []arrowio.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: create %s: %w", dir, err)
	}
	s := newStudy(rows)
	figs, err := buildFigures(s, stages)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, f := range figs {
		if err := render(dir, f); err != nil {
			return fmt.Errorf("report: figure %s: %w", f.File, err)
		}
	}
	page, err := indexHTML(s, stages, rows, figs)
	if err != nil {
		return fmt.Errorf("report: index.html: %w", err)
	}
	return writeFile(filepath.Join(dir, "index.html"), page)
}

// builder makes the figures of one stage from its rows.
type builder func(s *study, st StageInfo, rows []arrowio.Result) ([]figure, error)

// builderFor picks the figures a stage gets by its kind and plugin.
func builderFor(st StageInfo) []builder {
	switch {
	case st.Kind == kindMeasure && st.Plugin == "shapebias":
		return []builder{shapeBiasFigure}
	case st.Kind == kindMeasure && st.Plugin == "calibration":
		return []builder{reliabilityFigure}
	case st.Kind == kindMeasure && st.Plugin == "accuracy":
		return []builder{sweepFigure}
	case st.Kind == kindAggregate && st.Plugin == "spectralbias":
		return []builder{spectralFigure}
	case st.Kind == kindAggregate && st.Plugin == "criticalband":
		return []builder{criticalBandFigure}
	case st.Kind == kindCriticality:
		return []builder{criticalityFigure, criticalityHeatmap}
	case st.Kind == kindFilters:
		return []builder{filterStatsFigure}
	}
	return nil
}

// buildFigures makes every stage's figures, in stage order, plus a divergence matrix for any stage with
// divergence rows; file names are unique.
func buildFigures(s *study, stages []StageInfo) ([]figure, error) {
	var out []figure
	used := map[string]bool{}
	for _, st := range stages {
		rows := s.byStage[st.ID]
		if len(rows) == 0 {
			continue
		}
		for _, b := range append(builderFor(st), divergenceFigure) {
			figs, err := b(s, st, rows)
			if err != nil {
				return nil, fmt.Errorf("stage %s (%s %s): %w", st.ID, st.Kind, st.Plugin, err)
			}
			for _, f := range figs {
				f.File = uniqueName(safeName(st.ID)+"-"+f.File, used)
				out = append(out, f)
			}
		}
	}
	return out, nil
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
func render(dir string, f figure) (err error) {
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
