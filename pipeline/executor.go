package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/stages/criticality"
	"github.com/vistudy/vistudy/stages/infer"
	"github.com/vistudy/vistudy/stages/load"
	"github.com/vistudy/vistudy/stages/perturb"
)

// Shard selects the units of one part of a sharded run: unit k belongs to shard k mod Count.
type Shard struct {
	Index, Count int
}

// ParseShard reads "i/N".
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{0, 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("--shard %q: want i/N with 0 ≤ i < N, e.g. 0/4", s)
	}
	return Shard{i, n}, nil
}

// Has reports whether unit k belongs to this shard.
func (s Shard) Has(k int) bool { return s.Count <= 1 || k%s.Count == s.Index }

// Whole reports whether the shard is the whole run.
func (s Shard) Whole() bool { return s.Count <= 1 }

// String renders i/N.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, max(s.Count, 1)) }

// Progress shows how a run advances; implementations draw bars or write log lines.
type Progress interface {
	// Bar starts a counter of total items.
	Bar(name string, total int64) Bar
	// Wait flushes the display when the run ends.
	Wait()
}

// Bar is one progress counter.
type Bar interface {
	Add(n int)
	Done()
}

// Options configure a run.
type Options struct {
	Catalog   *host.Catalog
	Mem       memory.Allocator
	Shard     Shard
	Progress  Progress
	Log       *slog.Logger
	Overrides []Override
	Version   string
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

type nopProgress struct{}

func (nopProgress) Bar(string, int64) Bar { return nopBar{} }
func (nopProgress) Wait()                 {}

type nopBar struct{}

func (nopBar) Add(int) {}
func (nopBar) Done()   {}

// datasetUnits is an opened dataset cut into work units.
type datasetUnits struct {
	ds    load.Dataset
	units [][]load.Sample
}

// openDatasets opens every dataset a load instance reads and cuts it into units.
func openDatasets(plan *Plan) (map[string]*datasetUnits, error) {
	out := map[string]*datasetUnits{}
	for _, in := range plan.Instances {
		if in.Stage.Kind != KindLoad || out[in.Dataset.Name] != nil {
			continue
		}
		ds, err := load.Open(in.Dataset.config(plan.Study))
		if err != nil {
			return nil, fmt.Errorf("dataset %q: %w", in.Dataset.Name, err)
		}
		samples := ds.Samples()
		size := plan.Study.Execution.UnitSize
		du := &datasetUnits{ds: ds}
		for i := 0; i < len(samples); i += size {
			du.units = append(du.units, samples[i:min(i+size, len(samples))])
		}
		out[in.Dataset.Name] = du
	}
	return out, nil
}

// Run executes the plan into the study's run directory: the units of opts.Shard not yet
// committed, then (for a whole run) the results. A cancelled run keeps every committed unit.
func Run(ctx context.Context, plan *Plan, opts Options) error {
	opts.defaults()
	s := plan.Study
	rd, err := OpenRunDir(s, opts.Overrides)
	if err != nil {
		return err
	}
	if s.Runtime.Library != "" {
		os.Setenv("ONNXRUNTIME_LIB", s.Runtime.Library) // plugin processes inherit it
	}
	datasets, err := openDatasets(plan)
	if err != nil {
		return err
	}
	started := time.Now()
	models := s.Models
	step := max(1, s.Execution.ParallelModels)
	for i := 0; i < len(models); i += step {
		wave := models[i:min(i+step, len(models))]
		ex := &executor{plan: plan, rd: rd, opts: opts, datasets: datasets, wave: wave, last: i+step >= len(models)}
		if err := ex.run(ctx); err != nil {
			return err
		}
	}
	opts.Progress.Wait()
	if !opts.Shard.Whole() {
		opts.Log.Info("shard finished; run `vistudy merge` once every shard is done", "shard", opts.Shard.String(), "seconds", time.Since(started).Seconds())
		return nil
	}
	return Finalize(ctx, plan, opts)
}

// msg is one item on a stream: a batch of a unit, or the end of a unit.
type msg struct {
	unit  int
	batch int
	rec   arrow.RecordBatch
	end   bool
	slot  *slot // set on perturbed image batches: freed when every consumer is done with them
}

// slot is one of the executor's perturbed-batch slots, held from the perturbation until every
// consumer has processed the batch. Sweeps expand into many perturb instances; without the
// bound, each would hold its own batch of images in flight.
type slot struct {
	pending atomic.Int32
	free    func()
}

// done marks one consumer finished with the batch; the last frees the slot.
func (s *slot) done() {
	if s != nil && s.pending.Add(-1) == 0 {
		s.free()
	}
}

// executor runs one wave of models.
type executor struct {
	plan     *Plan
	rd       *RunDir
	opts     Options
	datasets map[string]*datasetUnits
	wave     []*Model
	last     bool // the run's last wave

	active    []*Instance
	consumers map[*Instance][]*Instance
	inbox     map[*Instance]chan msg
	own       map[*Instance]map[int]bool // units the instance itself commits
	needed    map[*Instance]map[int]bool // units the instance must process

	pendingUnits map[*Instance][]string   // model-level instances: units to run
	critRuntimes map[*Model]*host.Runtime // runtimes with overridable weights, for criticality
	slots        chan struct{}            // perturbed image batches in flight
	bars         map[string]*sharedBar
	runtimes     map[*Model]*host.Runtime
	perturbs     map[string]*host.Perturbation
	metrics      map[string]*host.MetricProcess
}

// streaming reports whether in processes data units.
func streaming(in *Instance) bool {
	switch in.Stage.Kind {
	case KindLoad, KindPerturb, KindInfer, KindMeasure:
		return true
	}
	return false
}

// commits reports whether in writes a unit record per data unit.
func commits(in *Instance) bool {
	switch in.Stage.Kind {
	case KindLoad, KindInfer, KindMeasure:
		return true
	case KindPerturb:
		return in.Stage.Save != nil && *in.Stage.Save
	}
	return false
}

// saves reports whether in writes its batches as a table.
func saves(in *Instance) bool {
	if in.Stage.Save != nil {
		return *in.Stage.Save
	}
	return in.Stage.Kind == KindInfer
}

func (ex *executor) inWave(m *Model) bool { return m != nil && slices.Contains(ex.wave, m) }

// selectWork picks this wave's instances and the units each must process.
func (ex *executor) selectWork() error {
	ex.consumers = map[*Instance][]*Instance{}
	ex.own = map[*Instance]map[int]bool{}
	ex.needed = map[*Instance]map[int]bool{}
	ex.pendingUnits = map[*Instance][]string{}
	insts := ex.plan.Instances
	activeSet := map[*Instance]bool{}
	// Walk backwards so that consumers are decided before their inputs.
	for i := len(insts) - 1; i >= 0; i-- {
		in := insts[i]
		if in.Stage.Kind == KindAggregate || (in.Model != nil && !ex.inWave(in.Model)) {
			continue
		}
		if in.Stage.Kind == KindCriticality || in.Stage.Kind == KindFilters {
			pending, err := ex.modelUnits(in)
			if err != nil {
				return err
			}
			if len(pending) == 0 {
				continue
			}
			activeSet[in], ex.pendingUnits[in] = true, pending
			if in.Input != nil {
				// A layer sweep needs every image of its input, whatever the shard.
				need := map[int]bool{}
				for k := range ex.datasets[in.Root.Dataset.Name].units {
					need[k] = true
				}
				ex.needed[in] = need
				ex.consumers[in.Input] = append(ex.consumers[in.Input], in)
			}
			continue
		}
		own := map[int]bool{}
		if commits(in) {
			for k := range ex.datasets[in.Root.Dataset.Name].units {
				if ex.opts.Shard.Has(k) && !ex.rd.Done(in, unitName(k)) {
					own[k] = true
				}
			}
		}
		need := map[int]bool{}
		for _, c := range ex.consumers[in] {
			for k := range ex.needed[c] {
				need[k] = true
			}
		}
		if in.Model == nil && !ex.last {
			// Model-free stages are shared by the waves: a wave runs them for its own models' needs,
			// and the last wave also finishes what no model needed (a resumed run's stragglers).
			own = intersect(own, need)
		}
		for k := range own {
			need[k] = true
		}
		if len(need) == 0 {
			continue
		}
		activeSet[in] = true
		ex.own[in], ex.needed[in] = own, need
		if in.Input != nil {
			ex.consumers[in.Input] = append(ex.consumers[in.Input], in)
		}
	}
	ex.active = nil
	for _, in := range insts {
		if activeSet[in] {
			ex.active = append(ex.active, in)
		}
	}
	for _, in := range ex.active {
		slices.SortFunc(ex.consumers[in], func(a, b *Instance) int {
			return slices.Index(insts, a) - slices.Index(insts, b)
		})
	}
	return nil
}

func intersect(a, b map[int]bool) map[int]bool {
	out := map[int]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

// run executes the wave.
func (ex *executor) run(ctx context.Context) (err error) {
	if err := ex.selectWork(); err != nil {
		return err
	}
	if len(ex.active) == 0 {
		return nil
	}
	ex.runtimes = map[*Model]*host.Runtime{}
	ex.critRuntimes = map[*Model]*host.Runtime{}
	ex.perturbs = map[string]*host.Perturbation{}
	ex.metrics = map[string]*host.MetricProcess{}
	defer ex.closePlugins()
	if err := ex.startPlugins(ctx); err != nil {
		return err
	}
	ex.slots = make(chan struct{}, 2*runtime.GOMAXPROCS(0)+2)
	ex.startBars()
	ex.inbox = map[*Instance]chan msg{}
	for _, in := range ex.active {
		if in.Input != nil {
			ex.inbox[in] = make(chan msg, 2)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, in := range ex.active {
		g.Go(func() error {
			defer ex.closeOutputs(in)
			var err error
			switch in.Stage.Kind {
			case KindLoad:
				err = ex.runLoad(gctx, in)
			case KindPerturb, KindInfer:
				err = ex.runTransform(gctx, in)
			case KindMeasure:
				err = ex.runMeasure(gctx, in)
			case KindCriticality:
				err = ex.runCriticality(gctx, in)
			case KindFilters:
				err = ex.runFilters(gctx, in)
			}
			if err != nil {
				return fmt.Errorf("stage %s (%s): %w", in.Stage.ID, in.Dir(), err)
			}
			return nil
		})
	}
	err = g.Wait()
	// Release whatever is still queued after a failure or cancellation.
	for _, ch := range ex.inbox {
		for m := range ch {
			if m.rec != nil {
				m.rec.Release()
			}
		}
	}
	if ctx.Err() != nil {
		// Cancelled from outside: whatever failed in flight failed because of it.
		return fmt.Errorf("run interrupted (finished units are kept; run again to resume): %w", ctx.Err())
	}
	return err
}

func (ex *executor) closeOutputs(in *Instance) {
	for _, c := range ex.consumers[in] {
		close(ex.inbox[c])
	}
}

// send hands m to every consumer of in (each gets its own reference) and drops the caller's.
func (ex *executor) send(ctx context.Context, in *Instance, m msg) error {
	defer func() {
		if m.rec != nil {
			m.rec.Release()
		}
	}()
	if m.slot != nil {
		m.slot.pending.Store(int32(len(ex.consumers[in])) + 1)
		defer m.slot.done() // the sender's share: a batch nobody consumes frees its slot here
	}
	for _, c := range ex.consumers[in] {
		if m.rec != nil {
			m.rec.Retain()
		}
		select {
		case ex.inbox[c] <- m:
		case <-ctx.Done():
			if m.rec != nil {
				m.rec.Release()
			}
			m.slot.done()
			return ctx.Err()
		}
	}
	return nil
}

// batchSeed derives the seed of one batch from the study seed, instance, unit and batch.
func batchSeed(study uint64, in *Instance, unit, batch int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s\x00%d\x00%d", study, in.Key(), unit, batch)
	return h.Sum64()
}

func (ex *executor) sortedUnits(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// commitWithTable renames the unit's part file into place (when *pw wrote one), names it in
// the record and commits the record; *pw is cleared.
func (ex *executor) commitWithTable(in *Instance, rec *UnitRecord, pw **arrowio.PartWriter) error {
	if *pw != nil {
		path, err := (*pw).Commit()
		*pw = nil
		if err != nil {
			return err
		}
		if path != "" {
			rec.Tables = []string{ex.rd.rel(path)}
		}
	}
	return ex.commit(in, rec)
}

func (ex *executor) commit(in *Instance, rec *UnitRecord) error {
	rec.Shard = ex.opts.Shard.String()
	if err := ex.rd.Commit(in, rec); err != nil {
		return err
	}
	if ex.opts.AfterCommit != nil {
		ex.opts.AfterCommit(in, rec.Unit)
	}
	return nil
}

func (ex *executor) runLoad(ctx context.Context, in *Instance) error {
	du := ex.datasets[in.Dataset.Name]
	s := ex.plan.Study
	workers := s.Execution.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	loader := &load.Loader{Workers: workers, BatchSize: s.Execution.BatchSize, Mem: ex.opts.Mem, Stage: in.Stage.ID}
	units := ex.sortedUnits(ex.needed[in])
	bar := ex.bars[barKey(in)]
	defer bar.Done()
	for _, k := range units {
		start := time.Now()
		var (
			mu   sync.Mutex
			errs []arrowio.ErrorRow
			bi   int
			rows int64
		)
		err := loader.Run(ctx, du.ds, du.units[k], in.Geometry, func(rec arrow.RecordBatch) error {
			rows += rec.NumRows()
			bar.Add(int(rec.NumRows()))
			m := msg{unit: k, batch: bi, rec: rec}
			bi++
			return ex.send(ctx, in, m)
		}, func(e arrowio.ErrorRow) {
			mu.Lock()
			errs = append(errs, e)
			mu.Unlock()
			bar.Add(1)
		})
		if err != nil {
			return err
		}
		if ex.own[in][k] {
			if err := ex.commit(in, &UnitRecord{Unit: unitName(k), Errors: errs, NumRows: rows, Seconds: time.Since(start).Seconds()}); err != nil {
				return err
			}
		}
		if err := ex.send(ctx, in, msg{unit: k, end: true}); err != nil {
			return err
		}
	}
	return nil
}

// transform is one batch-to-batch stage function.
type transform func(ctx context.Context, m msg) (arrow.RecordBatch, error)

func (ex *executor) transformOf(in *Instance) (transform, error) {
	switch in.Stage.Kind {
	case KindInfer:
		rt := ex.runtimes[in.Model]
		st := &infer.Stage{Model: in.Model.Name, Runtime: rt, Mem: ex.opts.Mem}
		return func(ctx context.Context, m msg) (arrow.RecordBatch, error) { return st.Apply(ctx, m.rec) }, nil
	case KindPerturb:
		pt := ex.perturbs[perturbKey(in)]
		st := &perturb.Stage{Name: in.Plugin.Info.Name, Params: in.Params, Primary: in.Plugin.Info.PrimaryParam, Plugin: pt, Mem: ex.opts.Mem}
		seed := ex.plan.Study.Seed
		return func(ctx context.Context, m msg) (arrow.RecordBatch, error) {
			return st.Apply(ctx, m.rec, batchSeed(seed, in, m.unit, m.batch))
		}, nil
	}
	return nil, fmt.Errorf("not a transform stage: %s", in.Stage.Kind)
}

func (ex *executor) runTransform(ctx context.Context, in *Instance) error {
	fn, err := ex.transformOf(in)
	if err != nil {
		return err
	}
	bar := ex.bars[barKey(in)]
	defer bar.Done()
	var (
		pw    *arrowio.PartWriter
		start time.Time
		rows  int64
	)
	defer func() {
		if pw != nil {
			pw.Abort()
		}
	}()
	for m := range ex.inbox[in] {
		if m.end {
			if ex.own[in][m.unit] {
				rec := &UnitRecord{Unit: unitName(m.unit), NumRows: rows, Seconds: time.Since(start).Seconds()}
				if err := ex.commitWithTable(in, rec, &pw); err != nil {
					return err
				}
			}
			rows, start = 0, time.Time{}
			if err := ex.send(ctx, in, m); err != nil {
				return err
			}
			continue
		}
		if !ex.needed[in][m.unit] {
			m.rec.Release()
			m.slot.done()
			continue
		}
		if start.IsZero() {
			start = time.Now()
		}
		var sl *slot
		if in.Stage.Kind == KindPerturb {
			if sl, err = ex.acquire(ctx); err != nil {
				m.rec.Release()
				m.slot.done()
				return err
			}
		}
		out, err := fn(ctx, m)
		n := m.rec.NumRows()
		m.rec.Release()
		m.slot.done()
		if err != nil {
			sl.release()
			return err
		}
		bar.Add(int(n))
		rows += out.NumRows()
		if ex.own[in][m.unit] && saves(in) {
			if pw == nil {
				pw = arrowio.NewPartWriter(ex.rd.TablePath(in, unitName(m.unit)), ex.opts.Mem, arrowio.ColModel)
			}
			if err := pw.Write(out); err != nil {
				out.Release()
				sl.release()
				return err
			}
		}
		if err := ex.send(ctx, in, msg{unit: m.unit, batch: m.batch, rec: out, slot: sl}); err != nil {
			return err
		}
	}
	return nil
}

// acquire takes a perturbed-batch slot, waiting while all are in use.
func (ex *executor) acquire(ctx context.Context) (*slot, error) {
	select {
	case ex.slots <- struct{}{}:
		return &slot{free: func() { <-ex.slots }}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release frees a slot that was never sent.
func (s *slot) release() {
	if s != nil {
		s.free()
	}
}

func (ex *executor) runMeasure(ctx context.Context, in *Instance) error {
	metric := ex.metrics[in.Plugin.Path].Bind(in.Params.JSON(), ex.modelContext(in))
	var (
		state   []byte
		started bool
		pw      *arrowio.PartWriter
		start   time.Time
		rows    int64
	)
	defer func() {
		if pw != nil {
			pw.Abort()
		}
	}()
	for m := range ex.inbox[in] {
		if !ex.own[in][m.unit] {
			if m.rec != nil {
				m.rec.Release()
			}
			continue
		}
		if !started {
			var err error
			if state, err = metric.Init(ctx); err != nil {
				if m.rec != nil {
					m.rec.Release()
				}
				return err
			}
			started, start, rows = true, time.Now(), 0
		}
		if m.end {
			rec := &UnitRecord{Unit: unitName(m.unit), State: state, NumRows: rows, Seconds: time.Since(start).Seconds()}
			if err := ex.commitWithTable(in, rec, &pw); err != nil {
				return err
			}
			started = false
			continue
		}
		newState, samples, err := metric.Accumulate(ctx, state, m.rec)
		rows += m.rec.NumRows()
		m.rec.Release()
		if err != nil {
			return err
		}
		state = newState
		if samples != nil {
			if pw == nil {
				pw = arrowio.NewPartWriter(ex.rd.TablePath(in, unitName(m.unit)), ex.opts.Mem, arrowio.ColModel)
			}
			err := pw.Write(samples)
			samples.Release()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// perturbKey identifies the plugin process a perturb instance uses: one per plugin, and per
// model for plugins that attack a model.
func perturbKey(in *Instance) string {
	if in.Plugin.Info.NeedsModel && in.Model != nil {
		return in.Plugin.Path + "\x00" + in.Model.Name
	}
	return in.Plugin.Path
}

func (ex *executor) startPlugins(ctx context.Context) error {
	for _, in := range ex.active {
		switch in.Stage.Kind {
		case KindInfer:
			if err := ex.startRuntime(ctx, in.Model); err != nil {
				return err
			}
		case KindCriticality:
			if err := ex.startCriticalityRuntime(ctx, in); err != nil {
				return err
			}
		case KindPerturb:
			key := perturbKey(in)
			if ex.perturbs[key] != nil {
				continue
			}
			var predict host.PredictFunc
			var model sdk.Model
			if in.Plugin.Info.NeedsModel {
				if err := ex.startRuntime(ctx, in.Model); err != nil {
					return err
				}
				rt := ex.runtimes[in.Model]
				predict = rt.Infer
				model = ex.modelContext(in)
			}
			pt, err := host.StartPerturbation(ctx, in.Plugin, model, predict, ex.opts.Mem)
			if err != nil {
				return err
			}
			ex.perturbs[key] = pt
		case KindMeasure:
			if ex.metrics[in.Plugin.Path] != nil {
				continue
			}
			mp, err := host.StartMetric(in.Plugin, ex.opts.Mem)
			if err != nil {
				return err
			}
			ex.metrics[in.Plugin.Path] = mp
		}
	}
	return nil
}

func (ex *executor) startRuntime(ctx context.Context, m *Model) error {
	if ex.runtimes[m] != nil {
		return nil
	}
	e, ok := ex.opts.Catalog.Lookup(sdk.KindRuntime, m.Runtime.Plugin)
	if !ok {
		return fmt.Errorf("model %s: runtime plugin %q is not installed", m.Name, m.Runtime.Plugin)
	}
	rt, err := host.StartRuntime(ctx, e, m.LoadRequest(), ex.opts.Mem)
	if err != nil {
		return err
	}
	ex.runtimes[m] = rt
	for _, w := range rt.Desc().Warnings {
		ex.opts.Log.Warn("runtime", "model", m.Name, "warning", w)
	}
	return nil
}

// startCriticalityRuntime starts a second runtime for the model of a criticality instance, with
// the selected layers' initializers overridable (weights swap without reloading the model).
func (ex *executor) startCriticalityRuntime(ctx context.Context, in *Instance) error {
	m := in.Model
	if ex.critRuntimes[m] != nil {
		return nil
	}
	e, ok := ex.opts.Catalog.Lookup(sdk.KindRuntime, m.Runtime.Plugin)
	if !ok {
		return fmt.Errorf("model %s: runtime plugin %q is not installed", m.Name, m.Runtime.Plugin)
	}
	model, layers, err := openLayers(in)
	if err != nil {
		return err
	}
	defer model.Close()
	req := m.LoadRequest()
	if req.Overridable, err = criticality.Overridable(model, layers); err != nil {
		return err
	}
	rt, err := host.StartRuntime(ctx, e, req, ex.opts.Mem)
	if err != nil {
		return err
	}
	ex.critRuntimes[m] = rt
	return nil
}

func (ex *executor) closePlugins() {
	for _, p := range ex.perturbs {
		p.Close()
	}
	for _, m := range ex.metrics {
		m.Close()
	}
	for _, r := range ex.runtimes {
		r.Close()
	}
	for _, r := range ex.critRuntimes {
		r.Close()
	}
}

// modelContext is what metrics and perturbations learn about the model of an instance and the
// dataset its chain reads.
func (ex *executor) modelContext(in *Instance) sdk.Model {
	var mc sdk.Model
	if m := in.Model; m != nil {
		mc = sdk.Model{Name: m.Name, LabelSpace: m.Labels}
		if sp, err := labelSpace(m.Labels, ex.plan.Study.Dir); err == nil {
			mc.ClassNames = sp.Names
			mc.NumClasses = len(sp.Names)
		}
	}
	if in.Root != nil {
		if du := ex.datasets[in.Root.Dataset.Name]; du != nil {
			mc.DatasetClasses = du.ds.Labels().Names
		}
	}
	return mc
}

var errIncomplete = errors.New("run is incomplete")

// barKey groups instances into one progress bar: a stage and its model (or image geometry), all
// sweep points together.
func barKey(in *Instance) string {
	if in.Model != nil {
		return in.Stage.Kind + " " + in.Stage.ID + " " + in.Model.Name
	}
	return in.Stage.Kind + " " + in.Stage.ID + " " + in.Geometry.Key()
}

// sharedBar is one progress bar fed by several instances; the last to finish ends it.
type sharedBar struct {
	Bar
	left atomic.Int32
}

// Done ends the bar once every instance feeding it has finished.
func (b *sharedBar) Done() {
	if b.left.Add(-1) == 0 {
		b.Bar.Done()
	}
}

// startBars creates the progress bars of the wave's load, perturb and infer instances, each
// counting the images of the units it must process.
func (ex *executor) startBars() {
	totals, users := map[string]int64{}, map[string]int32{}
	var keys []string
	for _, in := range ex.active {
		switch in.Stage.Kind {
		case KindMeasure, KindCriticality, KindFilters:
			continue
		}
		key := barKey(in)
		if users[key] == 0 {
			keys = append(keys, key)
		}
		users[key]++
		du := ex.datasets[in.Root.Dataset.Name]
		for k := range ex.needed[in] {
			totals[key] += int64(len(du.units[k]))
		}
	}
	ex.bars = map[string]*sharedBar{}
	for _, key := range keys {
		b := &sharedBar{Bar: ex.opts.Progress.Bar(key, totals[key])}
		b.left.Store(users[key])
		ex.bars[key] = b
	}
}
