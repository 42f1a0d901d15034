package pipeline

import (
	"fmt"
	"slices"
)

// executor runs one wave of models.
type executor struct {
	plan    *Plan
	rd      *RunDir
	opts    Options
	sources map[*Instance]Source
	wave    []*Model
	last    bool   // the run's last wave
	metrics *Procs // the run's metric processes, shared by its waves
	env     *Env

	active       []*Instance
	consumers    map[*Instance][]*Instance
	inbox        map[*Instance]chan msg
	own          map[*Instance]map[int]bool    // data units the instance itself commits
	needed       map[*Instance]map[int]bool    // data units the instance must process
	pendingUnits map[*Instance][]string        // model-level instances: units to run
	slots        chan struct{}                 // transformed image batches in flight
	track        *Tracker                      // nil while the tracker predicts the run
	planned      map[*Instance]map[string]bool // units earlier waves commit, while predicting
}

// commits reports whether in writes a unit record per data unit.
func commits(in *Instance) bool {
	switch specOf(in.Stage).Flow {
	case FlowSource, FlowSink:
		return true
	case FlowTransform:
		return saves(in)
	}
	return false
}

// saves reports whether in writes its batches as a table.
func saves(in *Instance) bool {
	if in.Stage.Save != nil {
		return *in.Stage.Save
	}
	return specOf(in.Stage).Save
}

func (ex *executor) inWave(m *Model) bool { return m != nil && slices.Contains(ex.wave, m) }

// modelIndex is the model's position in the study (spreads model-level units over shards).
func (p *Plan) modelIndex(m *Model) int {
	for i, x := range p.Study.Models {
		if x == m {
			return i
		}
	}
	return 0
}

// unitNames lists the units of a model-level instance.
func (p *Plan) unitNames(in *Instance) ([]string, error) {
	u, ok := kindOf(in.Stage).(Units)
	if !ok {
		return nil, fmt.Errorf("stage %s: the %s kind lists no units", in.Stage.ID, in.Stage.Kind)
	}
	state, err := p.State(in)
	if err != nil {
		return nil, err
	}
	return u.UnitNames(p.Study, in, state)
}

// modelUnits are the units of a model-level instance that are this shard's and pending.
func (ex *executor) modelUnits(in *Instance) ([]string, error) {
	names, err := ex.plan.unitNames(in)
	if err != nil {
		return nil, err
	}
	var pending []string
	base := ex.plan.modelIndex(in.Model)
	for i, u := range names {
		if ex.opts.Shard.Has(base+i) && !ex.done(in, u) {
			pending = append(pending, u)
		}
	}
	return pending, nil
}

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
		flow := specOf(in.Stage).Flow
		if flow == FlowSummary || (in.Model != nil && !ex.inWave(in.Model)) {
			continue
		}
		if flow == FlowModel {
			pending, err := ex.modelUnits(in)
			if err != nil {
				return err
			}
			if len(pending) == 0 {
				continue
			}
			activeSet[in], ex.pendingUnits[in] = true, pending
			if in.Input != nil {
				// A model-level unit needs every image of its input, whatever the shard.
				need := map[int]bool{}
				for k := range ex.sources[in.Root].Units() {
					need[k] = true
				}
				ex.needed[in] = need
				ex.consumers[in.Input] = append(ex.consumers[in.Input], in)
			}
			continue
		}
		own := map[int]bool{}
		if commits(in) {
			for k := range ex.sources[in.Root].Units() {
				if ex.opts.Shard.Has(k) && !ex.done(in, unitName(k)) {
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

// sortedUnits lists a set of data units in order.
func sortedUnits(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// UnitRef is one work unit the plan commits: its instance, name and the index that picks its
// shard (Index mod N).
type UnitRef struct {
	Instance *Instance
	Unit     string
	Index    int
}

// Units lists every unit the plan commits, in plan order, as the executor cuts them: data unit k
// of a source, sink or saved transform (shard k mod N), and unit i of a model-level instance
// (shard (model index + i) mod N). Schedulers count a run's progress by it.
func (p *Plan) Units() ([]UnitRef, error) {
	srcs, err := openSources(p)
	if err != nil {
		return nil, err
	}
	var out []UnitRef
	for _, in := range p.Instances {
		switch specOf(in.Stage).Flow {
		case FlowSummary:
			continue
		case FlowModel:
			names, err := p.unitNames(in)
			if err != nil {
				return nil, err
			}
			base := p.modelIndex(in.Model)
			for i, n := range names {
				out = append(out, UnitRef{Instance: in, Unit: n, Index: base + i})
			}
			continue
		}
		if !commits(in) {
			continue
		}
		for k := range srcs[in.Root].Units() {
			out = append(out, UnitRef{Instance: in, Unit: unitName(k), Index: k})
		}
	}
	return out, nil
}
