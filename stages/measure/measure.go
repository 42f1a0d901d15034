// Package measure is the `measure` stage kind: a metric plugin folds a model's predictions into
// a mergeable state per work unit; at finalize the states are merged in unit order and the
// plugin reports the rows.
package measure

import (
	"context"
	"fmt"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func init() { pipeline.Register(kind{}) }

type kind struct{}

func (kind) Spec() pipeline.KindSpec {
	return pipeline.KindSpec{
		Name:    "measure",
		Summary: "a metric plugin over the predictions it reads (mergeable state per unit, rows at the end)",
		Flow:    pipeline.FlowSink,
		Keys: []pipeline.Key{pipeline.KeyInput,
			{Name: "metric", Type: "string", Doc: "the metric plugin", Required: true, Role: pipeline.RoleComponent},
			pipeline.KeyParams},
		Reads:    []pipeline.Data{pipeline.Predictions},
		Produces: pipeline.Rows,
		Save:     true, // the per-sample (per-layer, per-filter) table
	}
}

func (kind) Check(c *pipeline.Check, st *pipeline.Stage) { c.Plugin(st, sdk.KindMetric, "metric") }

// Expand makes one instance per input instance.
func (kind) Expand(x *pipeline.Expansion, st *pipeline.Stage) ([]*pipeline.Instance, error) {
	e, err := x.Plugin(st, sdk.KindMetric, "metric")
	if err != nil {
		return nil, err
	}
	vals := x.Params(st, e.Info.Params)
	var out []*pipeline.Instance
	for _, src := range x.Of(st.Input) {
		in := pipeline.Follow(st, src, src.Model)
		in.Params, in.Plugin = vals, e
		out = append(out, in)
	}
	return out, nil
}

// Start binds the metric's process to the instance's parameters and model.
func (kind) Start(_ context.Context, env *pipeline.Env, in *pipeline.Instance) (any, error) {
	mp, err := env.Procs.Metric(in.Plugin)
	if err != nil {
		return nil, err
	}
	return mp.Bind(in.Params.JSON(), env.ModelContext(in)), nil
}

// InstanceRows merges the units' states in unit order and reports the rows.
func (kind) InstanceRows(ctx context.Context, f *pipeline.Final, in *pipeline.Instance, recs []*pipeline.UnitRecord) ([]arrowio.Result, error) {
	mp, err := f.Procs.Metric(in.Plugin)
	if err != nil {
		return nil, err
	}
	metric := mp.Bind(in.Params.JSON(), f.ModelContext(in))
	states := make([][]byte, len(recs))
	for i, r := range recs {
		states[i] = r.State
	}
	merged, err := metric.Merge(ctx, states)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	rows, err := metric.Report(ctx, merged)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	out := make([]arrowio.Result, len(rows))
	for i, r := range rows {
		out[i] = arrowio.Result{Model: in.ModelName(), Metric: r.Metric,
			Group: arrowio.JoinGroup(in.Label(), r.Group), Value: r.Value, N: r.N}
	}
	return out, nil
}
