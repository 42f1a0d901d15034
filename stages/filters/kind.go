package filters

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// The `filters` stage kind: per model, one unit (the model's weights); at finalize, the
// distributions of every compared model's 3×3 filters in one PCA basis.
func init() { pipeline.Register(kind{}) }

type kind struct{}

func (kind) Spec() pipeline.KindSpec {
	return pipeline.KindSpec{
		Name:     "filters",
		Summary:  "statistics of each model's learned 3×3 filters and the divergence of their distributions between models",
		Flow:     pipeline.FlowModel,
		Keys:     []pipeline.Key{pipeline.KeyModels, pipeline.KeyParams},
		Produces: pipeline.Rows,
		PerModel: true,
		Save:     true, // the per-sample (per-layer, per-filter) table
	}
}

func (kind) Check(c *pipeline.Check, st *pipeline.Stage) { c.Params(st, Params) }

// Expand makes one instance per model.
func (kind) Expand(x *pipeline.Expansion, st *pipeline.Stage) ([]*pipeline.Instance, error) {
	var out []*pipeline.Instance
	for _, m := range x.Models(st) {
		out = append(out, &pipeline.Instance{Stage: st, Model: m, Params: x.Params(st, Params)})
	}
	return out, nil
}

// modelUnit is the one unit of an instance: the whole model.
const modelUnit = "model"

// UnitNames is the one unit.
func (kind) UnitNames(*pipeline.Study, *pipeline.Instance, any) ([]string, error) {
	return []string{modelUnit}, nil
}

// runner computes one model's filter statistics (and its kernels table).
type runner struct {
	in  *pipeline.Instance
	env *pipeline.Env
}

func (kind) Start(_ context.Context, env *pipeline.Env, in *pipeline.Instance) (any, error) {
	return &runner{in: in, env: env}, nil
}

func (r *runner) Consume(context.Context, arrow.RecordBatch) error { return nil }

func (r *runner) RunUnit(_ context.Context, _ string, out *pipeline.UnitOut) (*pipeline.UnitRecord, error) {
	start := time.Now()
	m, err := onnx.Open(r.in.Model.Path)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	stats, err := Stats(m, r.in.Params)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", r.in.Model.Name, err)
	}
	rec := &pipeline.UnitRecord{}
	for _, s := range stats {
		rec.Rows = append(rec.Rows, s.Rows()...)
	}
	if r.in.Params.Bool(ParamKernels) {
		for _, l := range Layers3x3(m) {
			k, err := m.Kernels3x3(l)
			if err != nil {
				return nil, err
			}
			b, err := KernelsRecord(r.env.Mem, r.in.Model.Name, l, k)
			if err != nil {
				return nil, err
			}
			err = out.Table().Write(b)
			rec.NumRows += b.NumRows()
			b.Release()
			if err != nil {
				return nil, err
			}
		}
	}
	rec.Seconds = time.Since(start).Seconds()
	return rec, nil
}

// InstanceRows is the model's committed statistics.
func (kind) InstanceRows(_ context.Context, _ *pipeline.Final, in *pipeline.Instance, recs []*pipeline.UnitRecord) ([]arrowio.Result, error) {
	return pipeline.UnitRows(in, recs), nil
}

// StageRows computes the cross-model rows over every model the stage compares: a PCA basis of
// all their 3×3 filters, per-model (and per-depth-group) histograms, divergences.
func (kind) StageRows(_ context.Context, _ *pipeline.Final, _ *pipeline.Stage, ins []*pipeline.Instance) ([]arrowio.Result, error) {
	each := func(fn func(in *pipeline.Instance, k *onnx.Kernels) error) error {
		for _, in := range ins {
			m, err := onnx.Open(in.Model.Path)
			if err != nil {
				return err
			}
			for _, l := range Layers3x3(m) {
				k, err := m.Kernels3x3(l)
				if err == nil {
					err = fn(in, k)
				}
				if err != nil {
					m.Close()
					return fmt.Errorf("model %s layer %s: %w", in.Model.Name, l.Name, err)
				}
			}
			m.Close()
		}
		return nil
	}
	b := NewBasis()
	if err := each(func(_ *pipeline.Instance, k *onnx.Kernels) error { return b.Add(k) }); err != nil {
		return nil, err
	}
	if err := b.Finish(); err != nil {
		return nil, err
	}
	if err := each(func(_ *pipeline.Instance, k *onnx.Kernels) error { return b.Measure(k) }); err != nil {
		return nil, err
	}
	h, err := NewHistograms(b, ins[0].Params)
	if err != nil {
		return nil, err
	}
	if err := each(func(in *pipeline.Instance, k *onnx.Kernels) error { return h.Add(in.Model.Name, k) }); err != nil {
		return nil, fmt.Errorf("filter distributions: %w", err)
	}
	return h.Rows(), nil // the basis rows (explained variance) included
}

// Metrics declares the filter statistics rows.
func (kind) Metrics(*pipeline.Stage) []sdk.MetricInfo {
	return []sdk.MetricInfo{
		{Name: MetricSparsity, Unit: "fraction", Min: 0, Max: 1, Meaning: "per layer: fraction of sparse 3×3 filters"},
		{Name: MetricVarianceEntropy, Unit: "fraction", Min: 0, Max: 1, Meaning: "per layer: normalised entropy of the PCA variance of all filters (1: no structure)"},
		{Name: MetricVarianceEntropyNS, Unit: "fraction", Min: 0, Max: 1, Meaning: "per layer: the variance entropy of the non-sparse filters"},
		{Name: MetricOrthogonality, Unit: "fraction", Min: 0, Max: 1, Meaning: "per layer: 1 − mean |cos| between output channels"},
		{Name: MetricFilters, Unit: "count", Meaning: "per layer: 3×3 filters (c_out · c_in)"},
		{Name: MetricDivergence, Unit: "nats", Meaning: "symmetric KL divergence of two layers' filter distributions (other=…)"},
		{Name: MetricExplainedVariance, Unit: "fraction", Min: 0, Max: 1, Meaning: "explained variance ratio of one PCA component of all filters"},
		{Name: "*_undefined", Diagnostic: true, Unit: "flag", Meaning: "1 where the metric of that name is undefined"},
	}
}

// Figures are the statistics against depth and the model × model divergence.
func (kind) Figures(*pipeline.Stage) []sdk.Figure { return Figures }
