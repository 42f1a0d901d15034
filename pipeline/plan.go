package pipeline

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// SweepValue is one swept parameter's value on a chain of instances.
type SweepValue struct {
	Key   string
	Value any
}

// String renders key=value.
func (v SweepValue) String() string { return v.Key + "=" + formatValue(v.Value) }

func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// Instance is one stage run for one model (or geometry) and one point of its sweeps.
type Instance struct {
	Stage    *Stage
	Model    *Model        // nil for model-free instances
	Geometry Geometry      // image geometry of the chain
	Sweep    []SweepValue  // every swept value on the chain so far
	Params   params.Values // checked parameters, swept values substituted
	Plugin   *host.Entry   // the plugin the stage runs (perturbations, metrics)
	Input    *Instance
	Inputs   []*Instance // kinds with `inputs:` (summaries)
	Root     *Instance   // the load instance at the start of the chain
	Dataset  *Dataset    // sources
}

// Dir is the instance's folder below its stage in units/: model=<m> (or geometry=...) and k=v per sweep (tables use TablePath).
func (in *Instance) Dir() string {
	parts := []string{}
	if in.Model != nil {
		parts = append(parts, "model="+in.Model.Name)
	} else {
		parts = append(parts, "geometry="+in.Geometry.Key())
	}
	for _, s := range in.Sweep {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, "/")
}

// Key identifies the instance in the plan: stage id and Dir.
func (in *Instance) Key() string { return in.Stage.ID + "/" + in.Dir() }

// Label is the swept values as a group prefix ("threshold=0.25,c=0.1"), "" when none.
func (in *Instance) Label() string {
	parts := make([]string, len(in.Sweep))
	for i, s := range in.Sweep {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

// ModelName is the model's name or "".
func (in *Instance) ModelName() string {
	if in.Model == nil {
		return ""
	}
	return in.Model.Name
}

// Plan is the expanded DAG of a study: every instance in an order where inputs come first.
type Plan struct {
	Study     *Study
	Instances []*Instance

	mu       sync.Mutex
	prepared map[*Instance]*prepared
}

// prepared is an instance's state, prepared once per process.
type prepared struct {
	state any
	err   error
}

// Geometry is how a decoded image becomes a model input: resize the shorter side (0: none),
// then centre-crop Height × Width.
type Geometry struct {
	Resize        int
	Height, Width int
}

// Key names the geometry in folder names: "r256-c224x224", or "c224x224" without a resize.
func (g Geometry) Key() string {
	if g.Resize == 0 {
		return fmt.Sprintf("c%dx%d", g.Height, g.Width)
	}
	return fmt.Sprintf("r%d-c%dx%d", g.Resize, g.Height, g.Width)
}

// Geometry is the image geometry a model declares.
func (m *Model) Geometry() Geometry {
	return Geometry{Resize: m.Input.Resize, Height: m.Input.Height, Width: m.Input.Width}
}

// NewPlan expands a validated study into instances: each stage's kind expands it, in an order
// where inputs come first.
func NewPlan(s *Study, cat *host.Catalog) (*Plan, error) {
	p := &Plan{Study: s, prepared: map[*Instance]*prepared{}}
	x := &Expansion{Study: s, Catalog: cat, byStage: map[string][]*Instance{}}
	order, err := topoOrder(s)
	if err != nil {
		return nil, err
	}
	for _, st := range order {
		k := kindOf(st)
		if k == nil {
			return nil, fmt.Errorf("%s: stage %q: unknown kind %q", st.Pos("kind"), st.ID, st.Kind)
		}
		out, err := k.Expand(x, st)
		if err != nil {
			return nil, err
		}
		x.byStage[st.ID] = out
		p.Instances = append(p.Instances, out...)
	}
	if err := p.checkLabels(); err != nil {
		return nil, err
	}
	return p, nil
}

// State returns the instance's prepared state (preparing it on first use), nil for kinds that
// prepare nothing.
func (p *Plan) State(in *Instance) (any, error) {
	prep, ok := kindOf(in.Stage).(Preparer)
	if !ok {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prepared == nil {
		p.prepared = map[*Instance]*prepared{}
	}
	if st, ok := p.prepared[in]; ok {
		return st.state, st.err
	}
	state, err := prep.Prepare(p.Study, in)
	if err != nil {
		err = fmt.Errorf("stage %s (%s): %w", in.Stage.ID, in.Dir(), err)
	}
	p.prepared[in] = &prepared{state: state, err: err}
	return state, err
}

// Close releases the instances' prepared states.
func (p *Plan) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for in, st := range p.prepared {
		if c, ok := st.state.(io.Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
		delete(p.prepared, in)
	}
	return first
}

// Expansion is what a kind's Expand sees: the study, the plugins and the instances of the
// stages expanded so far.
type Expansion struct {
	Study   *Study
	Catalog *host.Catalog
	byStage map[string][]*Instance
}

// Of returns the instances of stage id.
func (x *Expansion) Of(id string) []*Instance { return x.byStage[id] }

// Models is the models a per-model stage runs for: its `models:` or all.
func (x *Expansion) Models(st *Stage) []*Model { return x.Study.stageModels(st) }

// Downstream is the models whose stages (transitively) read st's images, in study order.
func (x *Expansion) Downstream(st *Stage) []*Model { return x.Study.downstreamModels(st) }

// Plugin looks up the stage's component among the installed plugins of kind.
func (x *Expansion) Plugin(st *Stage, kind sdk.Kind, key string) (*host.Entry, error) {
	e, _ := x.Catalog.Lookup(kind, st.Plugin)
	if e == nil {
		return nil, fmt.Errorf("%s: stage %q: %s plugin %q is not installed", st.Pos(key), st.ID, kind, st.Plugin)
	}
	return e, nil
}

// Params applies defaults to the stage's params (the study was validated) and resolves path
// parameters against the study's folder.
func (x *Expansion) Params(st *Stage, specs []params.Spec) params.Values {
	return checkedParams(st, specs, x.Study.Dir)
}

// SweepPoint is one combination of a stage's swept values, with the parameters it gives.
type SweepPoint struct {
	Sweep  []SweepValue
	Values params.Values
}

// Sweep expands the stage's swept parameters into their cartesian product, in sweep order.
func (x *Expansion) Sweep(st *Stage, specs []params.Spec) ([]SweepPoint, error) {
	pts, err := sweepPoints(st, specs, x.Study.Dir)
	if err != nil {
		return nil, err
	}
	out := make([]SweepPoint, len(pts))
	for i, pt := range pts {
		out[i] = SweepPoint{Sweep: pt.sweep, Values: pt.values}
	}
	return out, nil
}

// PerModel makes one instance of st per model it runs for (its `models:` or all) and input
// instance of that model's geometry, each with the parameters vals.
func (x *Expansion) PerModel(st *Stage, vals params.Values) []*Instance {
	var out []*Instance
	for _, m := range x.Models(st) {
		for _, src := range x.Of(st.Input) {
			if Matches(m, src) {
				in := Follow(st, src, m)
				in.Params = vals
				out = append(out, in)
			}
		}
	}
	return out
}

// Follow is an instance of st reading src for model m (nil: model-free), on src's chain.
func Follow(st *Stage, src *Instance, m *Model) *Instance {
	return &Instance{Stage: st, Model: m, Geometry: src.Geometry, Sweep: src.Sweep, Input: src, Root: src.Root}
}

// Matches reports whether model m can read src: the same geometry, and src is model-free or m's.
func Matches(m *Model, src *Instance) bool {
	return m.Geometry() == src.Geometry && (src.Model == nil || src.Model == m)
}

// checkedParams applies defaults (the study was validated, so errors cannot occur here) and
// resolves path parameters against the study's folder.
func checkedParams(st *Stage, specs []params.Spec, dir string) params.Values {
	v, _ := params.Check(specs, st.Params)
	resolvePaths(specs, v, dir)
	return v
}

// resolvePaths makes relative values of path parameters relative to dir.
func resolvePaths(specs []params.Spec, v params.Values, dir string) {
	for _, sp := range specs {
		if p, ok := v[sp.Name].(string); ok && sp.Type == params.Path && p != "" && !filepath.IsAbs(p) {
			v[sp.Name] = filepath.Join(dir, p)
		}
	}
}

// sweepPoint is one combination of swept values.
type sweepPoint struct {
	sweep  []SweepValue
	values params.Values
}

// sweepPoints expands a stage's swept parameters into their cartesian product, in sweep order.
func sweepPoints(st *Stage, specs []params.Spec, dir string) ([]sweepPoint, error) {
	points := []sweepPoint{{}}
	for _, name := range st.Sweep {
		list, ok := st.Params[name].([]any)
		if !ok {
			list = []any{st.Params[name]}
		}
		list = params.ExpandGroups(specs, name, list)
		var next []sweepPoint
		for _, pt := range points {
			for _, val := range list {
				next = append(next, sweepPoint{sweep: append(slices.Clone(pt.sweep), SweepValue{name, val})})
			}
		}
		points = next
	}
	for i := range points {
		raw := map[string]any{}
		for k, v := range st.Params {
			raw[k] = v
		}
		for _, sv := range points[i].sweep {
			raw[sv.Key] = sv.Value
		}
		v, errs := params.Check(specs, raw)
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s: stage %q: %v", st.Pos("params"), st.ID, errs[0])
		}
		resolvePaths(specs, v, dir)
		points[i].values = v
	}
	return points, nil
}

// topoOrder orders stages so that inputs come first (the study was checked for cycles).
func topoOrder(s *Study) ([]*Stage, error) {
	var out []*Stage
	done := map[string]bool{}
	var visit func(st *Stage, depth int) error
	visit = func(st *Stage, depth int) error {
		if done[st.ID] {
			return nil
		}
		if depth > len(s.Stages) {
			return fmt.Errorf("%s: stage %q is part of a cycle", st.Pos("id"), st.ID)
		}
		for _, id := range st.inputs() {
			if in := s.stage(id); in != nil {
				if err := visit(in, depth+1); err != nil {
					return err
				}
			}
		}
		done[st.ID] = true
		out = append(out, st)
		return nil
	}
	for _, st := range s.Stages {
		if err := visit(st, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// stageModels is the models a per-model stage runs for: its `models:` or all.
func (s *Study) stageModels(st *Stage) []*Model {
	if len(st.Models) == 0 {
		return s.Models
	}
	var out []*Model
	for _, m := range s.Models {
		if slices.Contains(st.Models, m.Name) {
			out = append(out, m)
		}
	}
	return out
}

// DownstreamModels is the models whose stages (transitively) read st's images: the models an
// attack of st attacks.
func (s *Study) DownstreamModels(st *Stage) []*Model { return s.downstreamModels(st) }

// downstreamModels is the models whose stages (transitively) read st's images, in study order:
// per-model image readers take theirs, image transforms pass the question on.
func (s *Study) downstreamModels(st *Stage) []*Model {
	want := map[*Model]bool{}
	var walk func(id string)
	walk = func(id string) {
		for _, c := range s.Stages {
			if c.Input != id {
				continue
			}
			spec := specOf(c)
			switch {
			case spec.PerModel && spec.reads(Images):
				for _, m := range s.stageModels(c) {
					want[m] = true
				}
			case spec.reads(Images) && spec.Produces == Images:
				walk(c.ID)
			}
		}
	}
	walk(st.ID)
	var out []*Model
	for _, m := range s.Models {
		if want[m] {
			out = append(out, m)
		}
	}
	return out
}

// consumers lists the instances reading in.
func (p *Plan) consumers(in *Instance) []*Instance {
	var out []*Instance
	for _, c := range p.Instances {
		if c.Input == in {
			out = append(out, c)
		}
	}
	return out
}

// describe is one line about an instance for `vistudy plan`.
func (in *Instance) describe() string {
	st := in.Stage
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", st.Kind, st.ID)
	if in.Dataset != nil {
		fmt.Fprintf(&b, " dataset=%s (%s) geometry=%s", in.Dataset.Name, in.Dataset.Kind, in.Geometry.Key())
	}
	if st.Plugin != "" {
		if len(st.Inputs) > 0 {
			fmt.Fprintf(&b, " fn=%s inputs=%s", st.Plugin, strings.Join(st.Inputs, ","))
		} else {
			fmt.Fprintf(&b, " %s %s", st.Plugin, in.Params.JSON())
		}
	}
	if in.Model != nil {
		fmt.Fprintf(&b, " model=%s", in.Model.Name)
	}
	if l := in.Label(); l != "" {
		fmt.Fprintf(&b, " [%s]", l)
	}
	return b.String()
}

// WriteText writes the plan as an indented tree, chains under their inputs.
func (p *Plan) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "study %s (seed %d) → %s\n", p.Study.Name, p.Study.Seed, p.Study.Output)
	var walk func(in *Instance, depth int)
	walk = func(in *Instance, depth int) {
		fmt.Fprintf(w, "%s%s\n", strings.Repeat("  ", depth+1), in.describe())
		for _, c := range p.consumers(in) {
			walk(c, depth+1)
		}
	}
	for _, in := range p.Instances {
		if in.Input == nil {
			walk(in, 0)
		}
	}
	_, err := fmt.Fprintf(w, "%d instances\n", len(p.Instances))
	return err
}

// WriteDot writes the plan as a Graphviz digraph.
func (p *Plan) WriteDot(w io.Writer) error {
	fmt.Fprintf(w, "digraph %q {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n", p.Study.Name)
	for _, in := range p.Instances {
		fmt.Fprintf(w, "  %q [label=%q];\n", in.Key(), in.describe())
		if in.Input != nil {
			fmt.Fprintf(w, "  %q -> %q;\n", in.Input.Key(), in.Key())
		}
		for _, src := range in.Inputs {
			fmt.Fprintf(w, "  %q -> %q;\n", src.Key(), in.Key())
		}
	}
	_, err := fmt.Fprintln(w, "}")
	return err
}
