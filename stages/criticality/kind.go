package criticality

import (
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// The `criticality` stage kind: per model, one unit per selected layer.
func init() { pipeline.Register(kind{}) }

type kind struct{}

func (kind) Spec() pipeline.KindSpec {
	return pipeline.KindSpec{
		Name:     "criticality",
		Summary:  "resets one layer at a time to a fresh initialisation and measures how the model's outputs change",
		Flow:     pipeline.FlowModel,
		Keys:     []pipeline.Key{pipeline.KeyInput, pipeline.KeyModels, pipeline.KeyParams},
		Reads:    []pipeline.Data{pipeline.Images},
		Produces: pipeline.Rows,
		PerModel: true,
		Save:     true, // the per-sample (per-layer, per-filter) table
	}
}

func (kind) Check(c *pipeline.Check, st *pipeline.Stage) { c.Params(st, Params) }

// Expand makes one instance per model and input instance of the model's geometry.
func (kind) Expand(x *pipeline.Expansion, st *pipeline.Stage) ([]*pipeline.Instance, error) {
	return x.PerModel(st, x.Params(st, Params)), nil
}

// prepared is an instance's model, opened once, and the layers it resets.
type prepared struct {
	model       *onnx.Model
	layers      []onnx.Layer
	overridable []string
}

func (p *prepared) Close() error { return p.model.Close() }

// Prepare opens the model and selects the layers to reset.
func (kind) Prepare(_ *pipeline.Study, in *pipeline.Instance) (any, error) {
	m, err := onnx.Open(in.Model.Path)
	if err != nil {
		return nil, err
	}
	layers, err := Select(m, in.Params)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("model %s: %w", in.Model.Name, err)
	}
	names, err := Overridable(m, layers)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("model %s: %w", in.Model.Name, err)
	}
	return &prepared{model: m, layers: layers, overridable: names}, nil
}

// layerUnit names the unit of the i-th selected layer.
func layerUnit(i int) string { return fmt.Sprintf("l%04d", i) }

// UnitNames is one unit per selected layer.
func (kind) UnitNames(_ *pipeline.Study, _ *pipeline.Instance, state any) ([]string, error) {
	p := state.(*prepared)
	out := make([]string, len(p.layers))
	for i := range p.layers {
		out[i] = layerUnit(i)
	}
	return out, nil
}

// runner spills the instance's images, runs one clean pass, then each pending layer's resets.
type runner struct {
	in       *pipeline.Instance
	env      *pipeline.Env
	prep     *prepared
	rt       Runtime
	spillDir string
	spill    *Spill
	ref      *Ref
	seed     uint64
}

// Start starts a runtime of the model with the selected layers' initializers overridable (a
// reset swaps weights without reloading the model) and opens the spill.
func (kind) Start(ctx context.Context, env *pipeline.Env, in *pipeline.Instance) (any, error) {
	state, err := env.State(in)
	if err != nil {
		return nil, err
	}
	p := state.(*prepared)
	rt, err := env.Procs.RuntimeVariant(ctx, in.Model, "criticality "+in.Key(), func(req *sdk.LoadSpec) {
		req.Overridable = p.overridable
	})
	if err != nil {
		return nil, err
	}
	dir, err := env.Scratch()
	if err != nil {
		return nil, err
	}
	spill, err := NewSpill(dir, env.Mem)
	if err != nil {
		return nil, err
	}
	return &runner{in: in, env: env, prep: p, rt: rt, spillDir: dir, spill: spill,
		seed: pipeline.StageSeed(env.Study.Seed, in)}, nil
}

func (r *runner) Consume(_ context.Context, rec arrow.RecordBatch) error { return r.spill.Write(rec) }

func (r *runner) RunUnit(ctx context.Context, unit string, _ *pipeline.UnitOut) (*pipeline.UnitRecord, error) {
	if r.ref == nil {
		ref, err := Reference(ctx, r.rt, r.spill)
		if err != nil {
			return nil, err
		}
		r.ref = ref
		r.env.Log.Info("criticality: clean pass", "model", r.in.Model.Name, "samples", ref.N, "seconds", fmt.Sprintf("%.2f", ref.Seconds))
	}
	var i int
	if _, err := fmt.Sscanf(unit, "l%d", &i); err != nil || i >= len(r.prep.layers) {
		return nil, fmt.Errorf("unknown unit %q", unit)
	}
	layer := r.prep.layers[i]
	res, err := Sweep(ctx, r.rt, r.spill, r.ref, r.prep.model, layer, r.in.Params, LayerSeed(r.seed, layer.Name))
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", layer.Name, err)
	}
	r.env.Log.Debug("criticality", "model", r.in.Model.Name, "layer", layer.Name, "criticality", fmt.Sprintf("%.2f", res.Criticality), "seconds", fmt.Sprintf("%.2f", res.Seconds))
	return &pipeline.UnitRecord{Rows: res.Rows(), NumRows: int64(r.ref.N), Seconds: res.Seconds,
		Timings: map[string]float64{"clean_pass": r.ref.Seconds, "trials": float64(res.Trials)}}, nil
}

// Close removes the spill (and its folder once empty: other instances may still spill there).
func (r *runner) Close() error {
	err := r.spill.Close()
	os.Remove(r.spillDir)
	return err
}

// ManifestSweep records the cost of one model's criticality sweep against its clean pass.
type ManifestSweep struct {
	Stage            string  `json:"stage"`
	Model            string  `json:"model"`
	Layers           int     `json:"layers"`
	Trials           int     `json:"trials"`
	SweepSeconds     float64 `json:"sweep_seconds"`
	CleanPassSeconds float64 `json:"clean_pass_seconds"` // the first clean pass of each run, averaged
	// Ratio is SweepSeconds / (layers × trials × clean pass): 1 means a reset costs nothing.
	Ratio float64 `json:"ratio"`
}

// sweepCost summarises the timings of an instance's unit records.
func sweepCost(in *pipeline.Instance, recs []*pipeline.UnitRecord) ManifestSweep {
	ms := ManifestSweep{Stage: in.Stage.ID, Model: in.Model.Name, Layers: len(recs)}
	var clean float64
	for _, r := range recs {
		ms.SweepSeconds += r.Seconds
		clean += r.Timings["clean_pass"]
		ms.Trials = max(ms.Trials, int(r.Timings["trials"]))
	}
	if len(recs) > 0 {
		ms.CleanPassSeconds = clean / float64(len(recs))
	}
	if d := float64(ms.Layers*ms.Trials) * ms.CleanPassSeconds; d > 0 {
		ms.Ratio = ms.SweepSeconds / d
	}
	return ms
}

// InstanceRows joins the layers' rows, adds the model's summary and records the sweep's cost in
// the manifest (criticality_sweeps).
func (kind) InstanceRows(_ context.Context, f *pipeline.Final, in *pipeline.Instance, recs []*pipeline.UnitRecord) ([]arrowio.Result, error) {
	f.Record("criticality_sweeps", sweepCost(in, recs))
	rows := pipeline.UnitRows(in, recs)
	return append(rows, ModelRows(rows)...), nil
}

// Metrics declares the criticality rows.
func (kind) Metrics(*pipeline.Stage) []sdk.MetricInfo {
	return []sdk.MetricInfo{
		{Name: MetricCriticality, Unit: "percent", Min: 0, Max: 100, Headline: true, Label: "criticality",
			Meaning: "(1 − mean cosine of the softmax outputs with the layer reset vs trained) · 100; per layer, and the mean over layers per model"},
		{Name: MetricCriticalityMax, Diagnostic: true, Unit: "percent", Min: 0, Max: 100, Meaning: "the most critical layer's criticality"},
		{Name: MetricLayers, Diagnostic: true, Unit: "count", Meaning: "layers reset"},
		{Name: MetricCosine, Diagnostic: true, Unit: "cosine", Min: -1, Max: 1, Meaning: "mean cosine similarity of the softmax outputs, reset vs trained"},
		{Name: MetricL1, Diagnostic: true, Unit: "distance", Min: 0, Max: 2, Meaning: "mean L1 distance of the softmax outputs"},
		{Name: MetricL2, Diagnostic: true, Unit: "distance", Min: 0, Max: 1.5, Meaning: "mean L2 distance of the softmax outputs"},
		{Name: MetricTop1Reset, Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "top-1 accuracy with the layer reset, mean over trials"},
		{Name: MetricTop5Reset, Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "top-5 accuracy with the layer reset, mean over trials"},
		{Name: MetricTop1Original, Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "top-1 accuracy of the trained model"},
		{Name: MetricTop5Original, Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "top-5 accuracy of the trained model"},
		{Name: MetricRecovered, Diagnostic: true, Unit: "ratio", Meaning: "top1_reset / top1_original"},
		{Name: MetricNonFinite, Diagnostic: true, Unit: "count", Meaning: "samples × trials with a non-finite output after the reset (left out)"},
		{Name: "*_undefined", Diagnostic: true, Unit: "flag", Meaning: "1 where the metric of that name is undefined (see docs/analyses.md)"},
	}
}

// Figures are criticality against depth and the layer × model heat map.
func (kind) Figures(*pipeline.Stage) []sdk.Figure { return Figures }
