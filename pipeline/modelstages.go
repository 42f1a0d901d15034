package pipeline

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/runtimes/onnx"
	"github.com/vistudy/vistudy/stages/criticality"
	"github.com/vistudy/vistudy/stages/filters"
)

func init() {
	builtinParams[KindCriticality] = criticality.Params
	builtinParams[KindFilters] = filters.Params
}

// filtersUnit is the one unit of a filters instance: the whole model.
const filtersUnit = "model"

// layerUnit names the unit of a criticality instance's i-th selected layer.
func layerUnit(i int) string { return fmt.Sprintf("l%04d", i) }

// modelIndex is the model's position in the study (spreads model-level units over shards).
func (p *Plan) modelIndex(m *Model) int {
	for i, x := range p.Study.Models {
		if x == m {
			return i
		}
	}
	return 0
}

// openLayers opens the model of a criticality instance (the caller closes it) and selects the
// layers it resets.
func openLayers(in *Instance) (*onnx.Model, []onnx.Layer, error) {
	m, err := onnx.Open(in.Model.Path)
	if err != nil {
		return nil, nil, err
	}
	layers, err := criticality.Select(m, in.Params)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("stage %s, model %s: %w", in.Stage.ID, in.Model.Name, err)
	}
	return m, layers, nil
}

// criticalityLayers lists the layers a criticality instance resets.
func criticalityLayers(in *Instance) ([]onnx.Layer, error) {
	m, layers, err := openLayers(in)
	if err != nil {
		return nil, err
	}
	m.Close()
	return layers, nil
}

// modelUnits are the units of a model-level instance and whether each is this shard's and pending.
func (ex *executor) modelUnits(in *Instance) ([]string, error) {
	var names []string
	switch in.Stage.Kind {
	case KindFilters:
		names = []string{filtersUnit}
	case KindCriticality:
		layers, err := criticalityLayers(in)
		if err != nil {
			return nil, err
		}
		for i := range layers {
			names = append(names, layerUnit(i))
		}
	}
	var pending []string
	base := ex.plan.modelIndex(in.Model)
	for i, u := range names {
		if ex.opts.Shard.Has(base+i) && !ex.rd.Done(in, u) {
			pending = append(pending, u)
		}
	}
	return pending, nil
}

// stageSeed derives an instance's seed from the study seed.
func stageSeed(study uint64, in *Instance) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s", study, in.Key())
	return h.Sum64()
}

// runCriticality collects the instance's images on disk, runs one clean pass, then resets each
// pending layer in turn and commits its rows.
func (ex *executor) runCriticality(ctx context.Context, in *Instance) error {
	spillDir := ex.rd.path(".spill")
	if err := os.MkdirAll(spillDir, 0o755); err != nil {
		return err
	}
	defer os.Remove(spillDir) // once empty: other instances may still spill there
	spill, err := criticality.NewSpill(spillDir, ex.opts.Mem)
	if err != nil {
		return err
	}
	defer spill.Close()
	for m := range ex.inbox[in] {
		if m.rec != nil {
			err := spill.Write(m.rec)
			m.rec.Release()
			m.slot.done()
			if err != nil {
				return err
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rt := ex.critRuntimes[in.Model]
	ref, err := criticality.Reference(ctx, rt, spill)
	if err != nil {
		return err
	}
	model, layers, err := openLayers(in)
	if err != nil {
		return err
	}
	defer model.Close()
	seed := stageSeed(ex.plan.Study.Seed, in)
	ex.opts.Log.Info("criticality: clean pass", "model", in.Model.Name, "samples", ref.N, "seconds", ref.Seconds, "layers", len(ex.pendingUnits[in]))
	for _, unit := range ex.pendingUnits[in] {
		var i int
		fmt.Sscanf(unit, "l%d", &i)
		layer := layers[i]
		res, err := criticality.Sweep(ctx, rt, spill, ref, model, layer, in.Params, criticality.LayerSeed(seed, layer.Name))
		if err != nil {
			return fmt.Errorf("layer %s: %w", layer.Name, err)
		}
		rows := res.Rows()
		ex.opts.Log.Info("criticality", "model", in.Model.Name, "layer", layer.Name, "criticality", res.Criticality, "seconds", res.Seconds)
		rec := &UnitRecord{Unit: unit, Rows: rows, NumRows: int64(ref.N), Seconds: res.Seconds,
			Timings: map[string]float64{"clean_pass": ref.Seconds, "trials": float64(res.Trials)}}
		if err := ex.commit(in, rec); err != nil {
			return err
		}
	}
	return nil
}

// runFilters computes the filter statistics of the instance's model (and its kernels table).
func (ex *executor) runFilters(_ context.Context, in *Instance) error {
	start := time.Now()
	m, err := onnx.Open(in.Model.Path)
	if err != nil {
		return err
	}
	defer m.Close()
	stats, err := filters.Stats(m, in.Params)
	if err != nil {
		return fmt.Errorf("model %s: %w", in.Model.Name, err)
	}
	rec := &UnitRecord{Unit: filtersUnit}
	for _, s := range stats {
		rec.Rows = append(rec.Rows, s.Rows()...)
	}
	if in.Params.Bool("kernels") {
		pw := arrowio.NewPartWriter(ex.rd.TablePath(in, filtersUnit), ex.opts.Mem, arrowio.ColModel)
		for _, l := range filters.Layers3x3(m) {
			k, err := m.Kernels3x3(l)
			if err != nil {
				pw.Abort()
				return err
			}
			b, err := filters.KernelsRecord(ex.opts.Mem, in.Model.Name, l, k)
			if err != nil {
				pw.Abort()
				return err
			}
			err = pw.Write(b)
			rec.NumRows += b.NumRows()
			b.Release()
			if err != nil {
				pw.Abort()
				return err
			}
		}
		path, err := pw.Commit()
		if err != nil {
			return err
		}
		if path != "" {
			rec.Tables = []string{ex.rd.rel(path)}
		}
	}
	rec.Seconds = time.Since(start).Seconds()
	return ex.commit(in, rec)
}

// filterDivergence computes the cross-model rows of a filters stage over every model it compares:
// a PCA basis of all their 3×3 filters, per-model (and per-depth-group) histograms, divergences.
func filterDivergence(ins []*Instance) ([]arrowio.Result, error) {
	if len(ins) == 0 {
		return nil, nil
	}
	each := func(fn func(in *Instance, k *onnx.Kernels) error) error {
		for _, in := range ins {
			m, err := onnx.Open(in.Model.Path)
			if err != nil {
				return err
			}
			for _, l := range filters.Layers3x3(m) {
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
	b := filters.NewBasis()
	if err := each(func(_ *Instance, k *onnx.Kernels) error { return b.Add(k) }); err != nil {
		return nil, err
	}
	if err := b.Finish(); err != nil {
		return nil, err
	}
	if err := each(func(_ *Instance, k *onnx.Kernels) error { return b.Measure(k) }); err != nil {
		return nil, err
	}
	h, err := filters.NewHistograms(b, ins[0].Params)
	if err != nil {
		return nil, err
	}
	if err := each(func(in *Instance, k *onnx.Kernels) error { return h.Add(in.Model.Name, k) }); err != nil {
		return nil, err
	}
	return h.Rows(), nil // the basis rows (explained variance) included
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

// sweepCost summarises the timings of a criticality instance's unit records.
func sweepCost(in *Instance, recs []*UnitRecord) ManifestSweep {
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

// modelLevelRows gathers the rows a criticality or filters instance committed (with the
// per-model summary of criticality), or says which units are missing.
func modelLevelRows(rd *RunDir, in *Instance) ([]arrowio.Result, []*UnitRecord, string, error) {
	want := 1
	if in.Stage.Kind == KindCriticality {
		layers, err := criticalityLayers(in)
		if err != nil {
			return nil, nil, "", err
		}
		want = len(layers)
	}
	recs, err := rd.Units(in)
	if err != nil {
		return nil, nil, "", err
	}
	if len(recs) != want {
		return nil, nil, fmt.Sprintf("%s: %d of %d units", in.Key(), want-len(recs), want), nil
	}
	var rows []arrowio.Result
	for _, r := range recs {
		rows = append(rows, r.Rows...)
	}
	for i := range rows {
		rows[i].Model, rows[i].Stage = in.Model.Name, in.Stage.ID
		rows[i].Group = arrowio.JoinGroup(in.Label(), rows[i].Group)
	}
	if in.Stage.Kind == KindCriticality {
		rows = append(rows, criticality.ModelRows(rows)...)
	}
	return rows, recs, "", nil
}
