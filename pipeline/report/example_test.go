package report_test

import (
	"fmt"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline/report"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// A figure kind registered from another package: each model's overall value of the hint's metric as
// a dot, drawn with gonum/plot. A stage whose component declares {Kind: "dots", Metric: "top1"}
// gets it.
func ExampleRegisterFigure() {
	report.RegisterFigure("dots", func(st *report.Stage) ([]report.Figure, error) {
		var pts plotter.XYs
		for i, m := range st.Models() {
			for _, r := range st.Rows {
				if r.Model == m && r.Metric == st.Hint.Metric && r.Group == "" {
					pts = append(pts, plotter.XY{X: float64(i), Y: r.Value})
				}
			}
		}
		if len(pts) == 0 {
			return nil, nil // nothing to draw for this stage
		}
		return []report.Figure{{File: "dots", Title: st.Hint.Metric + " per model", Caption: "One dot per model.",
			W: 4 * vg.Inch, H: 3 * vg.Inch, Draw: func(dc draw.Canvas) error {
				p := plot.New()
				s, err := plotter.NewScatter(pts)
				if err != nil {
					return err
				}
				p.Add(s)
				p.Draw(dc)
				return nil
			}}}, nil
	})

	dir, err := os.MkdirTemp("", "report-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	rows := []arrowio.Result{{Model: "a", Stage: "acc", Metric: "top1", Value: 0.7, N: 10}, {Model: "b", Stage: "acc", Metric: "top1", Value: 0.8, N: 10}}
	stages := []report.StageInfo{{ID: "acc", Kind: "measure", Plugin: "mine", Figures: []sdk.Figure{{Kind: "dots", Metric: "top1"}}}}
	if err := report.Write(dir, stages, rows); err != nil {
		fmt.Println(err)
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// acc-dots.csv
	// acc-dots.png
	// acc-dots.svg
	// index.html
}
