package pipeline

import (
	"sync"
	"sync/atomic"
	"time"
)

// Progress shows how a run advances by reading its Tracker; implementations (in the command)
// draw bars or write log lines. Run calls Start once before any work and Wait once when the
// work ends, finished, failed or interrupted, before the results are written.
type Progress interface {
	// Start begins the display of the run that t counts.
	Start(t *Tracker)
	// Wait ends the display; stages not finished stay at the counts they reached.
	Wait()
}

type nopProgress struct{}

func (nopProgress) Start(*Tracker) {}
func (nopProgress) Wait()          {}

// StageTotal is one stage whose work the progress counts: the images its sources and
// transforms process, summed over its models, sweep points and waves, or the units of a
// model-level stage.
type StageTotal struct {
	ID, Kind   string
	Models     int   // distinct models among its instances (0: model-free)
	Points     int   // distinct sweep points among its instances (1: no sweep)
	Geometries int   // distinct image geometries of a model-free stage
	Waves      int   // waves of models that run it (a model-free stage runs again in each)
	Units      bool  // Total counts units (a model-level stage), not images
	Total      int64 // what it has to process in this run
}

// StageState is a stage's counters at one moment.
type StageState struct {
	StageTotal
	Done     int64         // images (units) processed so far
	Finished bool          // every wave that runs the stage has ended without error
	Elapsed  time.Duration // from its first image to now, or to its last once all are done; 0 before it starts
}

// Snapshot is a run's counters at one moment.
type Snapshot struct {
	Stages    []StageState
	Units     int           // units of this shard of the run
	Resumed   int           // of them, committed by an earlier run
	Committed int           // committed by this run so far
	Skipped   int64         // inputs skipped (unreadable, invalid) in the units this run committed
	Elapsed   time.Duration // since the run started
}

// Tracker counts how a run advances; the executor adds to it from many goroutines and the
// Progress reads Snapshots of it.
type Tracker struct {
	stages    []StageTotal
	counters  []*stageCounter
	byStage   map[*Stage]*stageCounter
	units     int
	resumed   int
	started   time.Time
	committed atomic.Int64
	skipped   atomic.Int64
	wave      int
}

// stageCounter is one stage's live count.
type stageCounter struct {
	done     atomic.Int64
	first    atomic.Int64 // unix nanoseconds of its first image, 0 before
	last     atomic.Int64 // unix nanoseconds of its latest image
	mu       sync.Mutex
	finished time.Time
	lastWave int // the last wave that runs the stage
}

func (c *stageCounter) add(n int) {
	if c == nil || n == 0 {
		return
	}
	now := time.Now().UnixNano()
	if c.first.Load() == 0 {
		c.first.CompareAndSwap(0, now)
	}
	c.last.Store(now)
	c.done.Add(int64(n))
}

// Snapshot reads the counters.
func (t *Tracker) Snapshot() Snapshot {
	now := time.Now()
	s := Snapshot{Units: t.units, Resumed: t.resumed, Committed: int(t.committed.Load()),
		Skipped: t.skipped.Load(), Elapsed: now.Sub(t.started), Stages: make([]StageState, len(t.stages))}
	for i, c := range t.counters {
		st := StageState{StageTotal: t.stages[i], Done: c.done.Load()}
		c.mu.Lock()
		end := now
		if !c.finished.IsZero() {
			st.Finished = true
		}
		c.mu.Unlock()
		if st.Finished || st.Done >= st.Total {
			end = time.Unix(0, c.last.Load())
		}
		if f := c.first.Load(); f != 0 {
			st.Elapsed = max(0, end.Sub(time.Unix(0, f)))
		}
		s.Stages[i] = st
	}
	return s
}

func (t *Tracker) counter(in *Instance) *stageCounter {
	if t == nil {
		return nil
	}
	return t.byStage[in.Stage]
}

func (t *Tracker) commit() {
	if t != nil {
		t.committed.Add(1)
	}
}

func (t *Tracker) skip(n int) {
	if t != nil {
		t.skipped.Add(int64(n))
	}
}

// endWave marks finished the stages whose last wave has just ended without error.
func (t *Tracker) endWave() {
	now := time.Now()
	for _, c := range t.counters {
		if c.lastWave == t.wave {
			c.mu.Lock()
			c.finished = now
			c.mu.Unlock()
		}
	}
	t.wave++
}

// newTracker predicts what the run will process: every wave's work is selected in order, the
// units an earlier wave commits counted as done for the later ones, as the run will find them.
func newTracker(plan *Plan, rd *RunDir, opts Options, srcs map[*Instance]Source) (*Tracker, error) {
	t := &Tracker{byStage: map[*Stage]*stageCounter{}, started: time.Now()}
	type acc struct {
		total             int64
		units             bool
		models, pts, geos map[string]bool
		lastWave, waves   int
	}
	accs := map[*Stage]*acc{}
	planned := map[*Instance]map[string]bool{}
	toCommit := 0
	models := plan.Study.Models
	step := max(1, plan.Study.Execution.ParallelModels)
	for w, i := 0, 0; i < len(models); w, i = w+1, i+step {
		ex := &executor{plan: plan, rd: rd, opts: opts, sources: srcs, wave: models[i:min(i+step, len(models))],
			last: i+step >= len(models), planned: planned}
		if err := ex.selectWork(); err != nil {
			return nil, err
		}
		for _, in := range ex.active {
			if planned[in] == nil {
				planned[in] = map[string]bool{}
			}
			for k := range ex.own[in] {
				planned[in][unitName(k)] = true
			}
			for _, u := range ex.pendingUnits[in] {
				planned[in][u] = true
			}
			toCommit += len(ex.own[in]) + len(ex.pendingUnits[in])
			var n int64
			flow := specOf(in.Stage).Flow
			switch flow {
			case FlowSource, FlowTransform:
				for k := range ex.needed[in] {
					n += int64(srcs[in.Root].UnitLen(k))
				}
			case FlowModel:
				n = int64(len(ex.pendingUnits[in]))
			}
			if n == 0 {
				continue
			}
			a := accs[in.Stage]
			if a == nil {
				a = &acc{units: flow == FlowModel, models: map[string]bool{}, pts: map[string]bool{}, geos: map[string]bool{}}
				accs[in.Stage] = a
			}
			a.total += n
			if a.waves == 0 || a.lastWave != w {
				a.waves++
			}
			a.lastWave = w
			if in.Model != nil {
				a.models[in.Model.Name] = true
			} else {
				a.geos[in.Geometry.Key()] = true
			}
			a.pts[in.Label()] = true
		}
	}
	for _, st := range plan.Study.Stages {
		a := accs[st]
		if a == nil {
			continue
		}
		c := &stageCounter{lastWave: a.lastWave}
		t.stages = append(t.stages, StageTotal{ID: st.ID, Kind: st.Kind, Models: len(a.models), Points: len(a.pts),
			Geometries: len(a.geos), Waves: a.waves, Units: a.units, Total: a.total})
		t.counters = append(t.counters, c)
		t.byStage[st] = c
	}
	units, err := shardUnits(plan, opts.Shard, srcs)
	if err != nil {
		return nil, err
	}
	t.units, t.resumed = units, max(0, units-toCommit)
	return t, nil
}

// shardUnits counts the units of the plan that are the shard's.
func shardUnits(plan *Plan, shard Shard, srcs map[*Instance]Source) (int, error) {
	n := 0
	for _, in := range plan.Instances {
		switch specOf(in.Stage).Flow {
		case FlowSummary:
			continue
		case FlowModel:
			names, err := plan.unitNames(in)
			if err != nil {
				return 0, err
			}
			base := plan.modelIndex(in.Model)
			for i := range names {
				if shard.Has(base + i) {
					n++
				}
			}
			continue
		}
		if !commits(in) {
			continue
		}
		for k := range srcs[in.Root].Units() {
			if shard.Has(k) {
				n++
			}
		}
	}
	return n, nil
}

// done reports whether the unit is committed, or will have been by an earlier wave when the
// tracker predicts a run.
func (ex *executor) done(in *Instance, unit string) bool {
	return ex.planned[in][unit] || ex.rd.Done(in, unit)
}
