package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/vistudy/vistudy/plugins/host"
)

// Options configure a run.
type Options struct {
	Catalog   *host.Catalog
	Mem       memory.Allocator
	Shard     Shard
	Progress  Progress
	Log       *slog.Logger
	Overrides []Override
	Version   string
	// Redo, when the run directory was made from other inputs (a model file, a dataset listing, a
	// plugin binary), redoes the units the change affects instead of refusing the run.
	Redo bool
	// AfterCommit, when set, is called after every committed unit, from the committing stage's
	// goroutine (so concurrently); tests use it to stop a run part-way.
	AfterCommit func(in *Instance, unit string)
}

func (o *Options) defaults() {
	if o.Mem == nil {
		o.Mem = memory.DefaultAllocator
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if o.Progress == nil {
		o.Progress = nopProgress{}
	}
	if o.Shard.Count == 0 {
		o.Shard = Shard{0, 1}
	}
}

// ErrIncomplete is returned by Finalize when a unit has not been committed.
var ErrIncomplete = errors.New("run is incomplete")

func errSourceState(in *Instance) error {
	return fmt.Errorf("stage %s: the %s kind prepared no source", in.Stage.ID, in.Stage.Kind)
}

// Run executes the plan into the study's run directory: the units of opts.Shard not yet
// committed, wave by wave of models, then (for a whole run) the results. A cancelled run keeps
// every committed unit.
func Run(ctx context.Context, plan *Plan, opts Options) error {
	opts.defaults()
	if os.Getenv("GOGC") == "" {
		// Image batches are large pointer-free buffers, so a collection costs little, while Go's
		// default (100) lets the heap reach twice the batches in flight and its peak grow with the
		// length of the run (bench/README.md: peak memory at 10× the dataset).
		defer debug.SetGCPercent(debug.SetGCPercent(25))
	}
	defer plan.Close()
	s := plan.Study
	rd, err := OpenRunDir(s, opts.Overrides)
	if err != nil {
		return err
	}
	if s.Runtime.Library != "" {
		os.Setenv("ONNXRUNTIME_LIB", s.Runtime.Library) // plugin processes inherit it
	}
	if err := PrepareZeroShot(ctx, s, opts.Catalog, opts.Mem, opts.Log); err != nil { // class embeddings, composed classifiers
		return err
	}
	srcs, err := openSources(plan)
	if err != nil {
		return err
	}
	if err := rd.bindInputs(plan, srcs, opts.Catalog, opts.Redo); err != nil {
		return err
	}
	started := time.Now()
	track, err := newTracker(plan, rd, opts, srcs)
	if err != nil {
		return err
	}
	opts.Progress.Start(track)
	metrics := NewProcs(opts.Catalog, opts.Mem, opts.Log) // the metric processes of every wave and of Finalize
	defer metrics.Close()
	err = func() error {
		defer opts.Progress.Wait()
		models := s.Models
		step := max(1, s.Execution.ParallelModels)
		for i := 0; i < len(models); i += step {
			wave := models[i:min(i+step, len(models))]
			ex := &executor{plan: plan, rd: rd, opts: opts, sources: srcs, wave: wave, last: i+step >= len(models), track: track, metrics: metrics}
			if err := ex.run(ctx); err != nil {
				return err
			}
			track.endWave()
		}
		return nil
	}()
	if err != nil {
		return err
	}
	if !opts.Shard.Whole() {
		opts.Log.Info("shard finished; run `vistudy merge` once every shard is done", "shard", opts.Shard.String(), "seconds", time.Since(started).Seconds())
		return nil
	}
	return finalize(ctx, plan, opts, metrics)
}

// run executes the wave: each active instance is started (its plugin processes with it), then
// runs in a goroutine of its own, streams between them.
func (ex *executor) run(ctx context.Context) (err error) {
	if err := ex.selectWork(); err != nil {
		return err
	}
	if len(ex.active) == 0 {
		return nil
	}
	ex.slots = make(chan struct{}, 2*runtime.GOMAXPROCS(0)+2)
	mem := newRecycler(ex.opts.Mem, host.SharedArena(), cap(ex.slots)+batchesInFlight) // closed after the processes and every batch are gone
	defer mem.close()
	procs := NewProcs(ex.opts.Catalog, mem, ex.opts.Log)
	procs.shareMetrics(ex.metrics)
	defer procs.Close()
	ex.env = &Env{Study: ex.plan.Study, Plan: ex.plan, Procs: procs, Mem: mem, Log: ex.opts.Log, rd: ex.rd, srcs: ex.sources}
	ex.inbox = map[*Instance]chan msg{}
	for _, in := range ex.active {
		if in.Input != nil {
			ex.inbox[in] = make(chan msg, 2)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	launched := map[*Instance]bool{}
	// Sources start first and decode while the other instances start their plugin processes
	// (loading a model takes as long as decoding a few batches; bench/README.md).
	order := slices.Clone(ex.active)
	rank := func(in *Instance) int {
		if specOf(in.Stage).Flow == FlowSource {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(order, func(a, b *Instance) int { return cmp.Compare(rank(a), rank(b)) })
	for _, in := range order {
		r, err := ex.start(ctx, in)
		if err != nil {
			cancel()
			for _, other := range ex.active {
				if !launched[other] {
					ex.closeOutputs(other)
				}
			}
			g.Wait()
			ex.drain()
			return fmt.Errorf("stage %s (%s): %w", in.Stage.ID, in.Dir(), err)
		}
		launched[in] = true
		g.Go(func() error {
			defer ex.closeOutputs(in)
			var err error
			switch r := r.(type) {
			case Sourcer:
				err = ex.runSource(gctx, in, r)
			case Transformer:
				err = ex.runTransform(gctx, in, r)
			case Folder:
				err = ex.runSink(gctx, in, r)
			case ModelRunner:
				err = ex.runModel(gctx, in, r)
			}
			if err != nil {
				return fmt.Errorf("stage %s (%s): %w", in.Stage.ID, in.Dir(), err)
			}
			return nil
		})
	}
	err = g.Wait()
	ex.drain()
	if ctx.Err() != nil {
		// Cancelled from outside: whatever failed in flight failed because of it.
		return fmt.Errorf("run interrupted (finished units are kept; run again to resume): %w", ctx.Err())
	}
	return err
}

// start returns the runner of an active instance, checked against its kind's flow.
func (ex *executor) start(ctx context.Context, in *Instance) (any, error) {
	spec := specOf(in.Stage)
	st, ok := kindOf(in.Stage).(Starter)
	if !ok {
		return nil, fmt.Errorf("the %s kind cannot run (it has no Start)", in.Stage.Kind)
	}
	r, err := st.Start(ctx, ex.env, in)
	if err != nil {
		return nil, err
	}
	var fits bool
	switch spec.Flow {
	case FlowSource:
		_, fits = r.(Sourcer)
	case FlowTransform:
		_, fits = r.(Transformer)
	case FlowSink:
		_, fits = r.(Folder)
	case FlowModel:
		_, fits = r.(ModelRunner)
	}
	if !fits {
		return nil, fmt.Errorf("the %s kind started a %T, which does not fit its flow", in.Stage.Kind, r)
	}
	return r, nil
}
