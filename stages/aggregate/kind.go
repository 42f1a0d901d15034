package aggregate

import (
	"context"
	"fmt"
	"strings"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// The `aggregate` stage kind: a registered function over the rows of other stages, computed at
// finalize (so a merged sharded run and a single run give the same numbers).
func init() { pipeline.Register(kind{}) }

type kind struct{}

func (kind) Spec() pipeline.KindSpec {
	return pipeline.KindSpec{
		Name:    "aggregate",
		Summary: "a function over the rows of other stages, computed once every unit is finished",
		Flow:    pipeline.FlowSummary,
		Keys: []pipeline.Key{
			{Name: "inputs", Type: "list of stage ids", Doc: "the stages whose rows the function reads", Required: true, Role: pipeline.RoleInputs},
			{Name: "fn", Type: "string", Doc: "the aggregate function", Required: true, Role: pipeline.RoleComponent},
			pipeline.KeyParams},
		Reads:    []pipeline.Data{pipeline.Rows},
		Produces: pipeline.Rows,
	}
}

// Check looks the function up and checks its parameters against the stage's inputs.
func (kind) Check(c *pipeline.Check, st *pipeline.Stage) {
	what := fmt.Sprintf("stage %q", st.ID)
	if st.Plugin == "" {
		return // the missing `fn:` is reported with the required keys
	}
	f, ok := Lookup(st.Plugin)
	if !ok {
		c.Add(st.Pos("fn"), "%s: unknown aggregate function %q (known: %s)", what, st.Plugin, strings.Join(Names(), ", "))
		return
	}
	c.Params(st, f.Params)
	if f.Check != nil {
		if vals, errs := params.Check(f.Params, st.Params); len(errs) == 0 {
			if err := f.Check(vals, st.Inputs); err != nil {
				c.Add(st.Pos("params"), "%s: %v", what, err)
			}
		}
	}
}

// Expand makes the stage's one instance, reading every instance of its inputs.
func (kind) Expand(x *pipeline.Expansion, st *pipeline.Stage) ([]*pipeline.Instance, error) {
	in := &pipeline.Instance{Stage: st}
	if f, ok := Lookup(st.Plugin); ok {
		in.Params = x.Params(st, f.Params)
	}
	for _, id := range st.Inputs {
		in.Inputs = append(in.Inputs, x.Of(id)...)
	}
	return []*pipeline.Instance{in}, nil
}

// InstanceRows runs the function over its inputs' rows.
func (kind) InstanceRows(_ context.Context, f *pipeline.Final, in *pipeline.Instance, _ []*pipeline.UnitRecord) ([]arrowio.Result, error) {
	fn, ok := Lookup(in.Stage.Plugin)
	if !ok {
		return nil, fmt.Errorf("unknown aggregate function %q", in.Stage.Plugin)
	}
	rows, err := fn.Run(in.Params, in.Stage.Inputs, Inputs(f.ByStage()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn.Name, err)
	}
	return rows, nil
}

// Metrics are the function's declared metrics.
func (kind) Metrics(st *pipeline.Stage) []sdk.MetricInfo {
	if f, ok := Lookup(st.Plugin); ok {
		return f.Metrics
	}
	return nil
}

// Figures are the function's declared figures.
func (kind) Figures(st *pipeline.Stage) []sdk.Figure {
	if f, ok := Lookup(st.Plugin); ok {
		return f.Figures
	}
	return nil
}
