package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/stages/labels"
)

// validID is the shape of stage ids, model and dataset names (they name files and folders).
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Validate checks everything about a study that can be checked without running it: names,
// references, the DAG, plugins and their parameters, model and data paths. It returns every
// problem found.
func Validate(s *Study, cat *host.Catalog) error {
	var probs Problems
	v := &validator{s: s, cat: cat, probs: &probs}
	if cat != nil {
		cat.Prefetch(context.Background(), studyPlugins(s))
	}
	v.models()
	v.checkBatchMemory()
	for _, d := range s.Datasets {
		if !validID.MatchString(d.Name) {
			v.add(d.pos[""], "dataset %q: a dataset name may hold letters, digits, '_', '-', '.'", d.Name)
		}
	}
	v.stages()
	c := &Check{Study: s, Catalog: cat, v: v}
	for _, n := range KindNames() {
		if sc, ok := kindsByName(n).(StudyChecker); ok {
			sc.CheckStudy(c)
		}
	}
	sort.SliceStable(probs, func(i, j int) bool {
		a, b := probs[i].Pos, probs[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return probs.err()
}

// studyPlugins names the plugins the study uses: its models' runtimes and its stages' plugins.
func studyPlugins(s *Study) []string {
	var names []string
	for _, m := range s.Models {
		names = append(names, m.Runtime.Plugin)
	}
	for _, st := range s.Stages {
		names = append(names, st.Plugin)
	}
	return names
}

type validator struct {
	s     *Study
	cat   *host.Catalog
	probs *Problems
}

func (v *validator) add(p Pos, format string, args ...any) { v.probs.add(p, format, args...) }

func (v *validator) models() {
	if len(v.s.Models) == 0 {
		v.add(v.s.KeyPos(keyModels), "the study has no models (add a `models:` section)")
	}
	var zeroShot []*Model
	for _, m := range v.s.Models {
		what := fmt.Sprintf("model %q", m.Name)
		name := m.Name
		if m.ZeroShot != nil {
			name = m.ZeroShot.Model // the variant's name was checked by the parser
			zeroShot = append(zeroShot, m)
		}
		if !validID.MatchString(name) {
			v.add(m.pos[""], "%s: a model name may hold letters, digits, '_', '-', '.'", what)
		}
		switch {
		case m.ZeroShot != nil: // composed when the run starts (checkZeroShot checks its parts)
		case m.Path == "":
			v.add(m.pos[""], "%s has no path (the .onnx file)", what)
		default:
			st, err := os.Stat(m.Path)
			switch {
			case err != nil:
				v.add(m.pos["path"], "%s: model file %s does not exist", what, m.Path)
			case st.IsDir():
				v.add(m.pos["path"], "%s: %s is a folder; path names the .onnx file", what, m.Path)
			case m.SHA256 != "":
				sum, err := host.FileSHA256(m.Path)
				if err != nil {
					v.add(m.pos["path"], "%s: %v", what, err)
				} else if !strings.EqualFold(sum, strings.TrimSpace(m.SHA256)) {
					v.add(m.pos["sha256"], "%s: %s has sha256 %s, the study requires %s", what, m.Path, sum, m.SHA256)
				}
			}
		}
		in := m.Input
		if in.Height <= 0 || in.Width <= 0 {
			v.add(orPos(m.pos["input.size"], m.pos[""]), "%s needs input.size (the crop side, or [height, width]) as positive integers", what)
		}
		if in.Resize < 0 || (in.Resize > 0 && in.Resize < min(in.Height, in.Width)) {
			v.add(m.pos["input.resize"], "%s: input.resize %d is smaller than the crop %dx%d", what, in.Resize, in.Height, in.Width)
		}
		if in.Channels != "RGB" && in.Channels != "BGR" {
			v.add(m.pos["input.channels"], "%s: input.channels must be RGB or BGR, found %q", what, in.Channels)
		}
		for _, k := range []string{"mean", "std"} {
			vals := in.Mean
			if k == "std" {
				vals = in.Std
			}
			if len(vals) != 0 && len(vals) != 1 && len(vals) != 3 {
				v.add(m.pos["input."+k], "%s: input.%s needs 1 or 3 values (one per channel, in the model's channel order), found %d", what, k, len(vals))
			}
			if k == "std" && slices.Contains(vals, 0) {
				v.add(m.pos["input.std"], "%s: input.std must not be 0", what)
			}
		}
		if m.Output != "logits" && m.Output != "probabilities" {
			v.add(m.pos["output"], "%s: output must be logits or probabilities, found %q", what, m.Output)
		}
		if _, err := labels.Resolve(m.Labels, v.s.Dir); err != nil {
			v.add(orPos(m.pos["labels"], m.pos[""]), "%s: labels: %v", what, err)
		}
		rt := m.Runtime
		if v.cat != nil {
			e, err := v.cat.Open(context.Background(), sdk.KindRuntime, rt.Plugin)
			switch {
			case errors.Is(err, host.ErrNotInstalled):
				v.add(orPos(rt.pos["plugin"], m.pos[""]), "%s: unknown runtime plugin %q (installed: %s)", what, rt.Plugin, names(v.cat.Names(sdk.KindRuntime)))
			case err != nil:
				v.add(orPos(rt.pos["plugin"], m.pos[""]), "%s: runtime plugin %q cannot be used: %v", what, rt.Plugin, err)
			default:
				v.runtimeParams(what, rt, e.Info.Params)
			}
		}
	}
	v.checkZeroShot(zeroShot)
}

// runtimeParams checks the runtime keys a model's study sets against the parameters its runtime
// plugin declares (their types, choices and bounds are the plugin's: the execution providers of
// ONNX Runtime, say).
func (v *validator) runtimeParams(what string, rt RuntimeConfig, specs []params.Spec) {
	raw := map[string]any{}
	for k := range rt.set {
		switch k {
		case "threads":
			raw[k] = float64(rt.Threads)
		case "streams":
			raw[k] = float64(rt.Streams)
		case "chunk":
			raw[k] = float64(rt.Chunk)
		case "providers":
			list := make([]any, len(rt.Providers))
			for i, p := range rt.Providers {
				list[i] = p
			}
			raw[k] = list
		case "fallback":
			raw[k] = rt.Fallback
		case "library":
			raw[k] = rt.Library
		case "device_id":
			raw[k] = float64(rt.DeviceID)
		}
	}
	for k := range raw {
		if _, ok := params.Lookup(specs, k); !ok {
			v.add(rt.pos[k], "%s: runtime %s is not a parameter of the %s runtime plugin", what, k, rt.Plugin)
			delete(raw, k)
		}
	}
	_, errs := params.Check(specs, raw)
	for _, err := range errs {
		var pe *params.Error
		if errors.As(err, &pe) {
			v.add(rt.pos[pe.Name], "%s: runtime %v", what, err)
		}
	}
}

// Pos returns where key of the model was written (dotted for input keys: "input.size"), or the
// model itself.
func (m *Model) Pos(key string) Pos { return orPos(m.pos[key], m.pos[""]) }

func orPos(p, def Pos) Pos {
	if p.Line == 0 && p.Override == "" {
		return def
	}
	return p
}

func names(ns []string) string {
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}

// Pos returns where key of the dataset was written (the dataset itself for "").
func (d *Dataset) Pos(key string) Pos {
	if p, ok := d.pos[key]; ok {
		return p
	}
	return d.pos[""]
}

func (v *validator) stages() {
	byID := map[string]*Stage{}
	for _, st := range v.s.Stages {
		if st.ID == "" {
			continue
		}
		if !validID.MatchString(st.ID) {
			v.add(st.Pos("id"), "stage id %q may hold letters, digits, '_', '-', '.'", st.ID)
		}
		if prev, dup := byID[st.ID]; dup {
			v.add(st.Pos("id"), "stage id %q is used twice (first at line %d)", st.ID, prev.Pos("id").Line)
			continue
		}
		byID[st.ID] = st
	}
	if len(v.s.Stages) == 0 {
		v.add(v.s.KeyPos(keyStages), "the study has no stages (add a `stages:` list)")
	}
	for _, st := range v.s.Stages {
		v.stage(st, byID)
	}
	v.cycles(byID)
}

func (v *validator) ref(st *Stage, key, id string, byID map[string]*Stage) {
	what := fmt.Sprintf("stage %q", st.ID)
	in, ok := byID[id]
	if !ok {
		v.add(st.Pos(key), "%s: %s %q is not a stage of this study (stages: %s)", what, key, id, strings.Join(stageIDs(v.s), ", "))
		return
	}
	spec, from := specOf(st), specOf(in)
	if !spec.reads(from.Produces) {
		var readers []string
		for _, n := range KindNames() {
			if p := kindsByName(n).Spec().Produces; p != "" && spec.reads(p) {
				readers = append(readers, n)
			}
		}
		v.add(st.Pos(key), "%s: %s %s stage reads %s stages, but %q is %s %s stage", what, article(st.Kind), st.Kind,
			strings.Join(readers, " or "), id, article(in.Kind), in.Kind)
	}
}

// kindsByName returns a registered kind (the name came from KindNames or a parsed stage).
func kindsByName(n string) Kind {
	k, _ := LookupKind(n)
	return k
}

// article is "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func stageIDs(s *Study) []string {
	var out []string
	for _, st := range s.Stages {
		out = append(out, st.ID)
	}
	return out
}

func (v *validator) stage(st *Stage, byID map[string]*Stage) {
	what := fmt.Sprintf("stage %q", st.ID)
	k := kindOf(st)
	if k == nil {
		return // the parser reported it
	}
	if st.Save != nil && *st.Save && k.Spec().Flow == FlowSummary {
		v.add(st.Pos("save"), "%s: save: true, but a stage of kind %s has no per-sample table (its rows are in results.parquet)", what, st.Kind)
	}
	for _, key := range kindSection(k.Spec()).Keys {
		_, given := st.pos[key.Name]
		if key.Required && !given {
			v.add(st.Pos("kind"), "%s: %s needs `%s:` (%s)", what, st.Kind, key.Name, key.Doc)
			continue
		}
		switch key.Role {
		case RoleInput:
			if st.Input != "" {
				v.ref(st, key.Name, st.Input, byID)
			}
		case RoleInputs:
			for _, in := range st.Inputs {
				v.ref(st, key.Name, in, byID)
			}
		case RoleDataset:
			if st.Dataset != "" && v.s.dataset(st.Dataset) == nil {
				v.add(st.Pos(key.Name), "%s: dataset %q is not defined under datasets (defined: %s)", what, st.Dataset, strings.Join(datasetNames(v.s), ", "))
			}
		}
	}
	for _, m := range st.Models {
		if v.s.model(m) == nil {
			v.add(st.Pos("models"), "%s: model %q is not defined under models", what, m)
		}
	}
	k.Check(&Check{Study: v.s, Catalog: v.cat, v: v}, st)
}

// Check is what a kind's Check sees: the study, the plugins (nil when they are not checked) and
// where problems go.
type Check struct {
	Study   *Study
	Catalog *host.Catalog
	v       *validator
}

// Add reports a problem at p.
func (c *Check) Add(p Pos, format string, args ...any) { c.v.add(p, format, args...) }

// Plugin checks that the stage's component is an installed plugin of kind, and its parameters
// (swept ones included) against the plugin's schema; the entry is nil when not found or when
// plugins are not checked.
func (c *Check) Plugin(st *Stage, kind sdk.Kind, key string) *host.Entry {
	what := fmt.Sprintf("stage %q", st.ID)
	if st.Plugin == "" {
		c.Add(st.Pos("kind"), "%s: %s needs `%s:` (a %s plugin name)", what, st.Kind, key, kind)
		return nil
	}
	if c.Catalog == nil {
		return nil
	}
	e, err := c.Catalog.Open(context.Background(), kind, st.Plugin)
	switch {
	case errors.Is(err, host.ErrNotInstalled):
		c.Add(st.Pos(key), "%s: unknown %s plugin %q (installed: %s)", what, kind, st.Plugin, names(c.Catalog.Names(kind)))
		return nil
	case err != nil:
		c.Add(st.Pos(key), "%s: %s plugin %q cannot be used: %v", what, kind, st.Plugin, err)
		return nil
	}
	c.v.params(st, e.Info.Params, st.Sweep)
	return e
}

// Params checks the stage's params against specs (none of them swept).
func (c *Check) Params(st *Stage, specs []params.Spec) { c.v.params(st, specs, nil) }

func datasetNames(s *Study) []string {
	var out []string
	for _, d := range s.Datasets {
		out = append(out, d.Name)
	}
	return out
}

// params checks a stage's params against specs; swept parameters take a list of scalar values.
func (v *validator) params(st *Stage, specs []params.Spec, sweep []string) {
	what := fmt.Sprintf("stage %q", st.ID)
	raw := map[string]any{}
	for k, val := range st.Params {
		raw[k] = val
	}
	for _, name := range sweep {
		spec, ok := params.Lookup(specs, name)
		if !ok {
			v.add(st.Pos("sweep"), "%s: sweep names %q, which is not a parameter of %s", what, name, st.Plugin)
			continue
		}
		if !spec.Type.Scalar() {
			v.add(st.Pos("sweep"), "%s: sweep names %q, a %s parameter: only single-valued parameters can be swept", what, name, spec.Type)
			continue
		}
		val, ok := raw[name]
		if !ok {
			v.add(st.Pos("sweep"), "%s: sweep names %q but params gives no list of values for it", what, name)
			continue
		}
		list, isList := val.([]any)
		if !isList {
			list = []any{val}
		}
		list = params.ExpandGroups(specs, name, list)
		if len(list) == 0 {
			v.add(st.ParamPos(name), "%s: sweep over %q has no values", what, name)
		}
		for i, e := range list {
			if _, err := params.CheckValue(specs, name, e); err != nil {
				v.add(st.ParamPos(name), "%s: %s[%d]: %v", what, name, i, err)
			}
		}
		delete(raw, name)
	}
	specsLeft := slices.DeleteFunc(slices.Clone(specs), func(s params.Spec) bool { return slices.Contains(sweep, s.Name) })
	for name, val := range raw {
		if spec, ok := params.Lookup(specs, name); ok {
			if g, isStr := val.(string); isStr && spec.Groups[g] != nil {
				v.add(st.ParamPos(name), "%s: %s: %s stands for %d values (%s); add `sweep: [%s]` to run them", what, name, g, len(spec.Groups[g]), strings.Join(spec.Groups[g], ", "), name)
				delete(raw, name)
				continue
			}
		}
		if spec, ok := params.Lookup(specs, name); ok && spec.Type.Scalar() {
			if _, isList := val.([]any); isList {
				v.add(st.ParamPos(name), "%s: parameter %q takes one %s; to run several values add `sweep: [%s]`", what, name, spec.Type, name)
				delete(raw, name)
			}
		}
	}
	_, errs := params.Check(specsLeft, raw)
	for _, err := range errs {
		pe := err.(*params.Error)
		if slices.Contains(sweep, pe.Name) {
			continue
		}
		v.add(st.ParamPos(pe.Name), "%s: %v", what, err)
	}
	// A path parameter names a file or folder that must be there (relative to the study).
	for _, sp := range specs {
		p, ok := st.Params[sp.Name].(string)
		if sp.Type != params.Path || !ok || p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(v.s.Dir, p)
		}
		if _, err := os.Stat(p); err != nil {
			v.add(st.ParamPos(sp.Name), "%s: parameter %q: %s does not exist", what, sp.Name, p)
		}
	}
}

// cycles reports stages that (transitively) read themselves.
func (v *validator) cycles(byID map[string]*Stage) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var visit func(id string, path []string)
	visit = func(id string, path []string) {
		st, ok := byID[id]
		if !ok {
			return
		}
		switch color[id] {
		case grey:
			i := slices.Index(path, id)
			cycle := append(slices.Clone(path[i:]), id)
			v.add(st.Pos("id"), "stage %q is part of a cycle: %s", id, strings.Join(cycle, " → "))
			return
		case black:
			return
		}
		color[id] = grey
		for _, in := range st.inputs() {
			visit(in, append(path, id))
		}
		color[id] = black
	}
	for _, st := range v.s.Stages {
		visit(st.ID, nil)
	}
}

// inputs lists the stage ids a stage reads.
func (st *Stage) inputs() []string {
	if len(st.Inputs) > 0 {
		return st.Inputs
	}
	if st.Input != "" {
		return []string{st.Input}
	}
	return nil
}

func (s *Study) dataset(name string) *Dataset {
	for _, d := range s.Datasets {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (s *Study) model(name string) *Model {
	for _, m := range s.Models {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// stage returns the stage of id.
func (s *Study) stage(id string) *Stage {
	for _, st := range s.Stages {
		if st.ID == id {
			return st
		}
	}
	return nil
}
