package pipeline

import (
	"log/slog"
	"os"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Env is what a kind's runner gets: the study, the plugin processes, the allocator, the log,
// and the instances' prepared states and model contexts.
type Env struct {
	Study *Study
	Plan  *Plan
	Procs *Procs
	Mem   memory.Allocator
	Log   *slog.Logger
	rd    *RunDir
	srcs  map[*Instance]Source
}

// State returns the prepared state of in (see Preparer).
func (e *Env) State(in *Instance) (any, error) { return e.Plan.State(in) }

// Scratch is a folder of the run directory for an instance's temporary files, created on call;
// the caller removes what it wrote (and the folder once empty).
func (e *Env) Scratch() (string, error) {
	dir := e.rd.path(".spill")
	return dir, os.MkdirAll(dir, 0o755)
}

// ModelContext is what metrics and perturbations learn about the model of an instance and the
// dataset its chain reads.
func (e *Env) ModelContext(in *Instance) sdk.Model {
	var mc sdk.Model
	if m := in.Model; m != nil {
		mc = sdk.Model{Name: m.Name, LabelSpace: m.Labels}
		if sp, err := labelSpace(m.Labels, e.Study.Dir); err == nil {
			mc.ClassNames = sp.Names
			mc.NumClasses = len(sp.Names)
		}
	}
	if in.Root != nil {
		if c, ok := e.srcs[in.Root].(interface{ Classes() []string }); ok {
			mc.DatasetClasses = c.Classes()
		}
		if lm, err := e.Plan.LabelMap(in); err == nil && lm != nil && lm.OK() && !lm.Identity() {
			mc.DatasetToModel = lm.ToModel
		}
	}
	return mc
}

// UnitOut is where a model-level unit writes its table (a part file committed with the unit).
type UnitOut struct {
	new func() *pqfile.PartWriter
	pw  *pqfile.PartWriter
}

// Table returns the unit's part writer, created on first use.
func (o *UnitOut) Table() *pqfile.PartWriter {
	if o.pw == nil {
		o.pw = o.new()
	}
	return o.pw
}

// openSources prepares every source instance of the plan (datasets opened and cut into units).
func openSources(plan *Plan) (map[*Instance]Source, error) {
	out := map[*Instance]Source{}
	for _, in := range plan.Instances {
		if specOf(in.Stage).Flow != FlowSource {
			continue
		}
		st, err := plan.State(in)
		if err != nil {
			return nil, err
		}
		src, ok := st.(Source)
		if !ok {
			return nil, errSourceState(in)
		}
		out[in] = src
	}
	return out, nil
}
