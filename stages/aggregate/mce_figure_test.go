package aggregate_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline/report"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/stages/aggregate"
)

// TestMCEFigures renders the report of a corruption sweep (two models, 15 corruptions × 5
// severities) and mce's rows: the figures mce declares must come out as PNG files.
func TestMCEFigures(t *testing.T) {
	names := []string{"gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
		"snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression"}
	var acc []arrowio.Result
	for mi, m := range []string{"resnet50", "vit_b16"} {
		for ci, c := range names {
			for s := 1; s <= 5; s++ {
				acc = append(acc, arrowio.Result{Model: m, Stage: "acc_c", Metric: "top1", Group: fmt.Sprintf("name=%s,severity=%d", c, s),
					Value: 0.75 - 0.1*float64(s) + 0.01*float64(ci) + 0.05*float64(mi), N: 100})
			}
		}
	}
	f, _ := aggregate.Lookup("mce")
	p, errs := params.Check(f.Params, map[string]any{"corrupted": "acc_c", "published": "alexnet"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	rows, err := f.Run(p, []string{"acc_c"}, aggregate.Inputs{"acc_c": acc})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].Stage = "mce"
	}
	dir := t.TempDir()
	stages := []report.StageInfo{
		{ID: "acc_c", Kind: "measure", Plugin: "accuracy", Figures: []sdk.Figure{{Kind: sdk.FigureHeatmap, Metric: "top1"}}},
		{ID: "mce", Kind: "aggregate", Plugin: "mce", Figures: f.Figures},
	}
	if err := report.Write(dir, stages, append(acc, rows...)); err != nil {
		t.Fatal(err)
	}
	// accuracy per corruption and severity for each model (the sweep stage), the corruption × model
	// tables of accuracy and CE, accuracy vs severity, and mCE per model
	for _, name := range []string{"acc_c-heatmap-top1-resnet50.png", "acc_c-heatmap-top1-vit_b16.png", "mce-heatmap-accuracy.png",
		"mce-heatmap-cell_accuracy-resnet50.png", "mce-heatmap-cell_accuracy-vit_b16.png",
		"mce-heatmap-ce.png", "mce-sweep-severity.png", "mce-bars-mce.png"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() < 1000 {
			files, _ := filepath.Glob(filepath.Join(dir, "*.png"))
			t.Errorf("figure %s: %v (the report wrote %v)", name, err, files)
		}
	}
	if os.Getenv("MCE_FIGURES") != "" { // keep a copy to look at
		for _, n := range []string{"mce-heatmap-ce.png", "mce-heatmap-cell_accuracy-resnet50.png", "mce-sweep-severity.png"} {
			data, _ := os.ReadFile(filepath.Join(dir, n))
			_ = os.WriteFile(filepath.Join(os.Getenv("MCE_FIGURES"), n), data, 0o644)
		}
	}
}
