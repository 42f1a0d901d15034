package report_test

import (
	"slices"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline/report"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/stages/aggregate"
	"github.com/vistudy/vistudy/stages/criticality"
	"github.com/vistudy/vistudy/stages/filters"
)

// TestBuiltinFigures checks the declarations of the built-in components (the metric plugins' Info over
// gRPC, the aggregates' and stage kinds' Figures) against the report tests' table of them, and that
// every declared kind is registered.
func TestBuiltinFigures(t *testing.T) {
	cat := testenv.Catalog(t, "plugins/metrics/accuracy", "plugins/metrics/calibration", "plugins/metrics/shapebias")
	declared := map[[2]string][]sdk.Figure{
		{"criticality", ""}: criticality.Figures,
		{"filters", ""}:     filters.Figures,
	}
	for _, name := range cat.Names(sdk.KindMetric) {
		e, _ := cat.Lookup(sdk.KindMetric, name)
		declared[[2]string{"measure", name}] = e.Info.Figures
	}
	for _, name := range aggregate.Names() {
		f, _ := aggregate.Lookup(name)
		if len(f.Figures) == 0 {
			t.Errorf("aggregate %s declares no figure", name)
		}
		declared[[2]string{"aggregate", name}] = f.Figures
	}
	// The table covers the components of the default study (the report tests draw their figures).
	for k, got := range report.BuiltinFigures {
		if want, ok := declared[k]; !ok || !slices.Equal(got, want) {
			t.Errorf("%v: table %+v, declared %+v", k, got, want)
		}
	}
	for k, fs := range declared {
		for _, f := range fs {
			if _, ok := report.FigureKind(f.Kind); !ok {
				t.Errorf("%v declares figure kind %q, which is not registered (%v)", k, f.Kind, report.FigureKinds())
			}
		}
	}
}
