package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// InputsFile binds a run directory to the exact inputs its units were made from.
const InputsFile = "inputs.json"

// boundInputs are the digests of what a run read: model files, dataset listings, plugin
// binaries. A resumed run whose inputs changed is refused (or, with Options.Redo, redoes what
// the change affects), so it never mixes two models or misses added images.
type boundInputs struct {
	Models   map[string]string `json:"models"`   // model name → sha256 of its file
	Datasets map[string]string `json:"datasets"` // dataset name → digest of its listing
	Plugins  map[string]string `json:"plugins"`  // plugin path → sha256 of its binary
}

// Digester is a Source that can digest its listing (sample ids, labels, file sizes and
// modification times), so that a changed dataset is noticed on resume.
type Digester interface {
	Digest() (string, error)
}

// currentInputs digests what the plan reads now.
func currentInputs(plan *Plan, srcs map[*Instance]Source, cat *host.Catalog) (*boundInputs, error) {
	in := &boundInputs{Models: map[string]string{}, Datasets: map[string]string{}, Plugins: map[string]string{}}
	for _, m := range plan.Study.Models {
		sum, err := host.FileSHA256(m.Path)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
		in.Models[m.Name] = sum
		if cat != nil {
			if e, ok := cat.Lookup(sdk.KindRuntime, m.Runtime.Plugin); ok {
				in.Plugins[e.Path] = e.SHA256
			}
		}
	}
	for inst, src := range srcs {
		if d, ok := src.(Digester); ok && inst.Dataset != nil {
			sum, err := d.Digest()
			if err != nil {
				return nil, fmt.Errorf("dataset %s: %w", inst.Dataset.Name, err)
			}
			in.Datasets[inst.Dataset.Name] = sum
		}
	}
	for _, inst := range plan.Instances {
		if inst.Plugin != nil {
			in.Plugins[inst.Plugin.Path] = inst.Plugin.SHA256
		}
	}
	return in, nil
}

// change is one input that differs from the run directory's record.
type change struct {
	what    string
	model   string // the model whose file changed
	dataset string // the dataset whose listing changed
	plugin  string // the plugin binary that changed
}

func diffInputs(old, now *boundInputs) []change {
	var out []change
	for _, name := range sortedKeys(now.Models) {
		if was, ok := old.Models[name]; ok && was != now.Models[name] {
			out = append(out, change{what: fmt.Sprintf("model %q: its file changed (sha256 %.12s… → %.12s…)", name, was, now.Models[name]), model: name})
		}
	}
	for _, name := range sortedKeys(now.Datasets) {
		if was, ok := old.Datasets[name]; ok && was != now.Datasets[name] {
			out = append(out, change{what: fmt.Sprintf("dataset %q: its listing changed (files added, removed or modified)", name), dataset: name})
		}
	}
	for _, path := range sortedKeys(now.Plugins) {
		if was, ok := old.Plugins[path]; ok && was != now.Plugins[path] {
			out = append(out, change{what: fmt.Sprintf("plugin %s: its binary changed (sha256 %.12s… → %.12s…)", path, was, now.Plugins[path]), plugin: path})
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// affected reports whether instance in (or its chain) reads a changed input.
func (c change) affected(in *Instance, cat *host.Catalog) bool {
	for x := in; x != nil; x = x.Input {
		switch {
		case c.model != "" && x.Model != nil && x.Model.Name == c.model:
			return true
		case c.dataset != "" && x.Dataset != nil && x.Dataset.Name == c.dataset:
			return true
		case c.plugin != "" && x.Plugin != nil && x.Plugin.Path == c.plugin:
			return true
		case c.plugin != "" && x.Model != nil && cat != nil:
			if e, ok := cat.Lookup(sdk.KindRuntime, x.Model.Runtime.Plugin); ok && e.Path == c.plugin {
				return true
			}
		}
	}
	return false
}

// bindInputs compares the plan's inputs with those the run directory was made from. A change is
// refused, naming it, unless redo is set: then the units of every affected instance are removed
// (and redone by this run). The record is written for a new run and after a redo.
func (rd *RunDir) bindInputs(plan *Plan, srcs map[*Instance]Source, cat *host.Catalog, redo bool) error {
	now, err := currentInputs(plan, srcs, cat)
	if err != nil {
		return err
	}
	unlock, err := lockDir(rd.Root)
	if err != nil {
		return err
	}
	defer unlock()
	b, err := os.ReadFile(rd.path(InputsFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return rd.writeInputs(now)
	case err != nil:
		return fmt.Errorf("run directory %s: %w", rd.Root, err)
	}
	var old boundInputs
	if err := json.Unmarshal(b, &old); err != nil {
		return fmt.Errorf("run directory %s: %s is damaged: %w", rd.Root, InputsFile, err)
	}
	changes := diffInputs(&old, now)
	if len(changes) == 0 {
		return rd.writeInputs(merged(&old, now))
	}
	if !redo {
		var lines []string
		for _, c := range changes {
			lines = append(lines, "  "+c.what)
		}
		return fmt.Errorf("run directory %s was made from other inputs; its finished units would not match:\n%s\nrun with --redo to redo what the changes affect, or choose another output (--output)", rd.Root, strings.Join(lines, "\n"))
	}
	for _, in := range plan.Instances {
		if !slices.ContainsFunc(changes, func(c change) bool { return c.affected(in, cat) }) {
			continue
		}
		if err := os.RemoveAll(filepath.Dir(rd.unitPath(in, "x"))); err != nil {
			return fmt.Errorf("redo %s: %w", in.Key(), err)
		}
		if err := os.RemoveAll(filepath.Dir(rd.TablePath(in, "x"))); err != nil {
			return fmt.Errorf("redo %s: %w", in.Key(), err)
		}
	}
	return rd.writeInputs(merged(&old, now))
}

// merged is the old record updated with what the plan reads now (inputs the plan no longer reads
// are kept: a later run may read them again).
func merged(old, now *boundInputs) *boundInputs {
	out := &boundInputs{Models: map[string]string{}, Datasets: map[string]string{}, Plugins: map[string]string{}}
	for _, pair := range [][2]map[string]string{{out.Models, old.Models}, {out.Models, now.Models},
		{out.Datasets, old.Datasets}, {out.Datasets, now.Datasets}, {out.Plugins, old.Plugins}, {out.Plugins, now.Plugins}} {
		for k, v := range pair[1] {
			pair[0][k] = v
		}
	}
	return out
}

func (rd *RunDir) writeInputs(in *boundInputs) error {
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(rd.path(InputsFile), b)
}
