package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Procs owns the plugin processes of a wave (or of Finalize): one runtime per model and
// variant, one perturbation process per plugin (and model, for attacks), one metric process per
// plugin. Close ends them all, except the metric processes of a shared set (shareMetrics).
type Procs struct {
	cat *host.Catalog
	mem memory.Allocator
	log *slog.Logger

	// sharedMetrics, when set, owns the metric processes: they serve every wave of a run and its
	// Finalize, so a metric plugin starts once per run instead of once per wave and once more to
	// finish (its state lives in the host: a process holds none between calls).
	sharedMetrics *Procs

	mu       sync.Mutex
	runtimes map[string]*host.Runtime
	perturbs map[string]*host.Perturbation
	metrics  map[string]*host.MetricProcess
}

// NewProcs returns an owner of plugin processes started from cat.
func NewProcs(cat *host.Catalog, mem memory.Allocator, log *slog.Logger) *Procs {
	return &Procs{cat: cat, mem: mem, log: log, runtimes: map[string]*host.Runtime{},
		perturbs: map[string]*host.Perturbation{}, metrics: map[string]*host.MetricProcess{}}
}

// Runtime returns the runtime process of model m, started on first use.
func (p *Procs) Runtime(ctx context.Context, m *Model) (*host.Runtime, error) {
	return p.RuntimeVariant(ctx, m, "", nil)
}

// RuntimeVariant returns a runtime of model m whose load request edit changes (one process per
// model and variant name: criticality's overridable weights, say).
func (p *Procs) RuntimeVariant(ctx context.Context, m *Model, variant string, edit func(*sdk.LoadSpec)) (*host.Runtime, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := m.Name + "\x00" + variant
	if rt := p.runtimes[key]; rt != nil {
		return rt, nil
	}
	e, ok := p.cat.Lookup(sdk.KindRuntime, m.Runtime.Plugin)
	if !ok {
		return nil, fmt.Errorf("model %s: runtime plugin %q is not installed", m.Name, m.Runtime.Plugin)
	}
	spec := m.LoadSpec()
	if edit != nil {
		edit(&spec)
	}
	rt, err := host.StartRuntimeSpec(ctx, e, spec, p.mem)
	if err != nil {
		return nil, err
	}
	p.runtimes[key] = rt
	if variant == "" {
		for _, w := range rt.Desc().Warnings {
			p.log.Warn("runtime", "model", m.Name, "warning", w)
		}
	}
	return rt, nil
}

// Perturbation returns the process of perturbation plugin e: one per plugin, and per model for
// plugins that attack a model (m, whose runtime serves the oracle; mc is what the plugin learns).
func (p *Procs) Perturbation(ctx context.Context, e *host.Entry, m *Model, mc sdk.Model) (*host.Perturbation, error) {
	key := e.Path
	if e.Info.NeedsModel && m != nil {
		key += "\x00" + m.Name
	}
	p.mu.Lock()
	pt := p.perturbs[key]
	p.mu.Unlock()
	if pt != nil {
		return pt, nil
	}
	var (
		predict  host.PredictFunc
		gradient host.GradientFunc
		model    sdk.Model
	)
	if e.Info.NeedsModel {
		rt, err := p.Runtime(ctx, m)
		if err != nil {
			return nil, err
		}
		predict, gradient, model = rt.Infer, rt.Gradient, mc
	}
	pt, err := host.StartPerturbationWithGradient(ctx, e, model, predict, gradient, p.mem)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.perturbs[key] = pt
	p.mu.Unlock()
	return pt, nil
}

// shareMetrics makes p take its metric processes from (and leave them to) shared.
func (p *Procs) shareMetrics(shared *Procs) { p.sharedMetrics = shared }

// Metric returns the process of metric plugin e, started on first use.
func (p *Procs) Metric(e *host.Entry) (*host.MetricProcess, error) {
	if p.sharedMetrics != nil {
		return p.sharedMetrics.Metric(e)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if mp := p.metrics[e.Path]; mp != nil {
		return mp, nil
	}
	mp, err := host.StartMetric(e, p.mem)
	if err != nil {
		return nil, err
	}
	p.metrics[e.Path] = mp
	return mp, nil
}

// Close ends every process: perturbations first (their oracles use runtimes), then metrics and
// runtimes.
func (p *Procs) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, pt := range p.perturbs {
		pt.Close()
		delete(p.perturbs, k)
	}
	for k, mp := range p.metrics {
		mp.Close()
		delete(p.metrics, k)
	}
	for k, rt := range p.runtimes {
		rt.Close()
		delete(p.runtimes, k)
	}
}
