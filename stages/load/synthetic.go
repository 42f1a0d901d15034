package load

import (
	"cmp"
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/vistudy/vistudy/plugins/params"

	"github.com/vistudy/vistudy/stages/labels"
	"github.com/vistudy/vistudy/stages/load/synth"
)

// KindSynthetic is the kind of generated cue-conflict stimuli (package synth), rendered from a seed.
const KindSynthetic = "synthetic-cue-conflict"

// The keys of a synthetic-cue-conflict dataset.
const (
	ParamSet     = "set"      // conflict (default), aligned, stylised, shape-only, texture-only
	ParamClasses = "classes"  // class names in label order (default: the generator's first 8)
	ParamSize    = "size"     // image side in pixels (default 64)
	ParamPerPair = "per_pair" // images per (shape, texture) pair, or per class for the -only sets
	ParamSeed    = "seed"     // generator seed (default: the study's seed)
)

func init() {
	if err := Register(KindSynthetic, openSynthetic,
		params.Spec{Name: ParamSet, Type: params.String, Default: "conflict",
			Description: "conflict, aligned, stylised, shape-only or texture-only"},
		params.Spec{Name: ParamClasses, Type: params.StringList, Description: "class names in label order (default: the generator's first 8)"},
		params.Spec{Name: ParamSize, Type: params.Int, Default: 64, Min: params.Bound(0), Description: "image side in pixels"},
		params.Spec{Name: ParamPerPair, Type: params.Int, Min: params.Bound(0), Description: "images per (shape, texture) pair, or per class for the -only sets"},
		params.Spec{Name: ParamSeed, Type: params.Int, Min: params.Bound(0), Description: "generator seed (default: the study's seed)"}); err != nil {
		panic(err)
	}
}

// SynthConfig reads a synthetic dataset's keys into the generator's configuration.
func SynthConfig(cfg Config) (synth.Config, error) {
	sc := synth.Config{Seed: cfg.Seed}
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("load: dataset %q: %s %v: want %s", cfg.Name, key, v, want)
	}
	for key, v := range cfg.Params {
		switch key {
		case ParamSet:
			s, ok := v.(string)
			if !ok {
				return sc, bad(key, v, "a set name")
			}
			k, err := synth.ParseSetKind(s)
			if err != nil {
				return sc, fmt.Errorf("load: dataset %q: %w", cfg.Name, err)
			}
			sc.Set = k
		case ParamClasses:
			list, ok := v.([]any)
			if !ok {
				return sc, bad(key, v, "a list of class names")
			}
			for _, e := range list {
				s, ok := e.(string)
				if !ok {
					return sc, bad(key, e, "a class name")
				}
				sc.Classes = append(sc.Classes, s)
			}
		case ParamSize, ParamPerPair, ParamSeed:
			f, ok := v.(float64)
			if !ok || f < 0 || f != math.Trunc(f) {
				return sc, bad(key, v, "a non-negative integer")
			}
			switch key {
			case ParamSize:
				sc.Size = int(f)
			case ParamPerPair:
				sc.PerPair = int(f)
			case ParamSeed:
				sc.Seed = uint64(f)
			}
		}
	}
	return sc, nil
}

// openSynthetic lists the items of the generated set; images are rendered on demand.
func openSynthetic(cfg Config) (Dataset, error) {
	sc, err := SynthConfig(cfg)
	if err != nil {
		return nil, err
	}
	g, err := synth.New(sc)
	if err != nil {
		return nil, fmt.Errorf("load: dataset %q: %w", cfg.Name, err)
	}
	classes := g.Classes()
	space, err := labelSpace(cfg, func() (*labels.Space, error) { return labels.New(KindSynthetic, classes, classes) })
	if err != nil {
		return nil, err
	}
	// Class i of the generator is the class of the same name in the label space.
	index := make([]int32, len(classes))
	for i, c := range classes {
		j, ok := space.Index(c)
		if !ok {
			return nil, fmt.Errorf("load: dataset %q: generated class %q is not a class of label space %s", cfg.Name, c, space.Name)
		}
		index[i] = int32(j)
	}
	of := func(i int) int32 {
		if i < 0 {
			return -1
		}
		return index[i]
	}
	items := g.Items()
	slices.SortFunc(items, func(a, b synth.Item) int { return cmp.Compare(a.ID, b.ID) })
	ds := &syntheticDataset{name: cfg.Name, gen: g, items: map[string]synth.Item{}, space: space}
	for i, it := range items {
		ds.items[it.ID] = it
		label := of(it.Label())
		ds.samples = append(ds.samples, Sample{Index: i, ID: it.ID, Label: label, LabelName: space.ClassName(int(label)),
			Shape: of(it.Shape), Texture: of(it.Texture)})
	}
	return ds, nil
}

// syntheticDataset renders generated stimuli on demand.
type syntheticDataset struct {
	name    string
	gen     *synth.Generator
	items   map[string]synth.Item // by sample ID (a subset renumbers Sample.Index)
	samples []Sample
	space   *labels.Space
}

func (d *syntheticDataset) Name() string          { return d.name }
func (d *syntheticDataset) Kind() string          { return KindSynthetic }
func (d *syntheticDataset) Samples() []Sample     { return slices.Clone(d.samples) }
func (d *syntheticDataset) Labels() *labels.Space { return d.space }
func (d *syntheticDataset) CueConflict() bool     { return true }

// Image renders the sample's item; rendering depends only on the seed and the item.
func (d *syntheticDataset) Image(s Sample) (image.Image, error) {
	it, ok := d.items[s.ID]
	if !ok {
		return nil, fmt.Errorf("load: dataset %q has no sample %q", d.name, s.ID)
	}
	return d.gen.Render(it), nil
}
