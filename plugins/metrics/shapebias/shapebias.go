package main

import (
	"fmt"
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// paramMapping names the parameter that says how model outputs become categories, and
// paramMappingFile the .json file that replaces it (a path the host resolves against the study).
const (
	paramMapping     = "mapping"
	paramMappingFile = "mapping_file"
)

// mappingSpec is the mapping file when one is given, else the mapping parameter.
func mappingSpec(p params.Values) string {
	if f := p.String(paramMappingFile); f != "" {
		return f
	}
	return p.String(paramMapping)
}

// shapebias is the cue-conflict shape bias of Geirhos et al. (ICLR 2019), decided as model-vs-human does.
type shapebias struct{}

// counts are one shape category's decisions over its cue-conflict samples.
type counts struct {
	N       int64 `json:"n"`       // samples counted (shape != texture)
	Shape   int64 `json:"shape"`   // decision == shape category
	Texture int64 `json:"texture"` // decision == texture category
	Other   int64 `json:"other"`   // any other decision
}

func (c *counts) add(o counts) {
	c.N += o.N
	c.Shape += o.Shape
	c.Texture += o.Texture
	c.Other += o.Other
}

// state holds exact counts, so shards merge to the one-pass state.
type state struct {
	Categories map[string]counts `json:"categories"` // by shape category name
	Excluded   int64             `json:"excluded"`   // shape == texture: not a cue conflict
	Unlabelled int64             `json:"unlabelled"` // shape or texture label < 0
}

// outcome is what a sample's decision says about its cues.
type outcome int8

const (
	outShape outcome = iota
	outTexture
	outOther
	outExcluded
	outUnlabelled
)

var outcomeNames = [...]string{"shape", "texture", "other", "excluded", "unlabelled"}

func (o outcome) String() string { return outcomeNames[o] }

func (shapebias) Info() sdk.Info {
	return sdk.Info{
		Name: "shapebias", Version: "0.1.0",
		Description: "cue-conflict shape bias (Geirhos et al. 2019): a category's probability is the mean softmax " +
			"probability over its model outputs, the decision is the arg-max category; shape bias = shape / (shape + texture) " +
			"over samples whose shape and texture differ, overall and per shape category",
		Params: []params.Spec{{Name: paramMapping, Type: params.String, Default: mappingAuto,
			Description: "how model outputs become categories: auto (imagenet16 for 1000-class imagenet1k models, else identity), " +
				"imagenet16 (the 16 Geirhos categories over ImageNet-1k indices), identity (model class = category of the same name), " +
				"or an absolute path to a .json file {category: [model indices]}"},
			{Name: paramMappingFile, Type: params.Path,
				Description: "a .json file {category: [model indices]} (relative to the study file); replaces mapping"}},
		Requires: []string{arrowio.ColShapeLabel, arrowio.ColTextureLabel, arrowio.ColLogits},
		Figures:  []sdk.Figure{{Kind: "shapebias"}},
		Metrics: []sdk.MetricInfo{
			{Name: "shape_bias", Unit: "fraction", Min: 0, Max: 1, Headline: true, Label: "shape-bias",
				Meaning: "shape decisions / (shape + texture decisions) on cue-conflict samples (pooled; per category with category=…); humans ≈ 0.96"},
			{Name: "cue_accuracy", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher, Meaning: "(shape + texture decisions) / cue-conflict samples"},
			{Name: "shape_fraction", Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "shape decisions / cue-conflict samples"},
			{Name: "texture_fraction", Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "texture decisions / cue-conflict samples"},
			{Name: "other_fraction", Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "decisions for neither cue / cue-conflict samples"},
			{Name: "*_count", Diagnostic: true, Unit: "count", Meaning: "decisions of that kind (shape, texture, other)"},
			{Name: "excluded", Diagnostic: true, Unit: "count", Meaning: "samples left out: shape and texture agree, or no texture (silhouettes, edges)"},
			{Name: "shape_bias_undefined", Diagnostic: true, Unit: "count", Meaning: "categories without a single shape or texture decision (shape bias undefined)"},
			{Name: "unlabelled", Diagnostic: true, Unit: "count", Meaning: "samples without shape or texture labels"},
		},
	}
}

func (shapebias) Init(p params.Values, m sdk.Model) (state, error) {
	if _, err := newPlan(mappingSpec(p), m); err != nil {
		return state{}, err
	}
	return state{Categories: map[string]counts{}}, nil
}

// verdict is one sample's decision (dataset label index, -1 outside the dataset) and outcome.
type verdict struct {
	decision int32
	outcome  outcome
}

// cues are a batch's cue labels and verdicts.
type cues struct {
	shape, texture []int32
	verdicts       []verdict
}

// judge decides every sample of batch.
func (pl plan) judge(batch arrow.RecordBatch) (cues, error) {
	var c cues
	var err error
	if c.shape, err = arrowio.Int32Column(batch, arrowio.ColShapeLabel); err != nil {
		return c, err
	}
	if c.texture, err = arrowio.Int32Column(batch, arrowio.ColTextureLabel); err != nil {
		return c, err
	}
	logits, err := arrowio.TensorColumn(batch, arrowio.ColLogits)
	if err != nil {
		return c, err
	}
	if k := logits.Shape(); len(k) != 1 {
		return c, fmt.Errorf("column %q has tensor shape %v, want [K]", arrowio.ColLogits, k)
	}
	if err := pl.checkWidth(logits.Shape()[0]); err != nil {
		return c, err
	}
	probs := make([]float64, logits.Shape()[0])
	c.verdicts = make([]verdict, len(c.shape))
	for i := range c.shape {
		best, err := pl.decide(logits.Row(i), probs)
		if err != nil {
			return c, fmt.Errorf("%s: %w", sdk.SampleName(batch, i), err)
		}
		d := pl.datasetOf[best]
		s, t := c.shape[i], c.texture[i]
		for _, l := range []int32{s, t} {
			if int(l) >= len(pl.dataset) {
				return c, fmt.Errorf("sample %d has cue label %d but the dataset has %d categories", i, l, len(pl.dataset))
			}
		}
		v := verdict{decision: d}
		switch {
		case s < 0 || t < 0:
			v.outcome = outUnlabelled
		case s == t:
			v.outcome = outExcluded
		case d == s:
			v.outcome = outShape
		case d == t:
			v.outcome = outTexture
		default:
			v.outcome = outOther
		}
		c.verdicts[i] = v
	}
	return c, nil
}

// decide returns the mapping category with the highest mean softmax probability over its
// indices (the first on ties); probs is scratch of the row's length.
func (pl plan) decide(row []float32, probs []float64) (int, error) {
	if err := sdk.CheckLogits(row); err != nil {
		return 0, err
	}
	top := math.Inf(-1)
	for _, v := range row {
		top = max(top, float64(v))
	}
	var z float64
	for k, v := range row {
		probs[k] = math.Exp(float64(v) - top)
		z += probs[k]
	}
	best, bestP := 0, math.Inf(-1)
	for c, idx := range pl.indices {
		var s float64
		for _, k := range idx {
			s += probs[k] / z
		}
		if mean := s / float64(len(idx)); mean > bestP {
			best, bestP = c, mean
		}
	}
	return best, nil
}

func (shapebias) Accumulate(p params.Values, m sdk.Model, s state, batch arrow.RecordBatch) (state, error) {
	pl, err := newPlan(mappingSpec(p), m)
	if err != nil {
		return s, err
	}
	c, err := pl.judge(batch)
	if err != nil {
		return s, err
	}
	if s.Categories == nil {
		s.Categories = map[string]counts{}
	}
	for i, v := range c.verdicts {
		var add counts
		switch v.outcome {
		case outUnlabelled:
			s.Unlabelled++
			continue
		case outExcluded:
			s.Excluded++
			continue
		case outShape:
			add.Shape = 1
		case outTexture:
			add.Texture = 1
		case outOther:
			add.Other = 1
		}
		add.N = 1
		name := pl.dataset[c.shape[i]]
		cc := s.Categories[name]
		cc.add(add)
		s.Categories[name] = cc
	}
	return s, nil
}

func (shapebias) Merge(_ params.Values, _ sdk.Model, a, b state) (state, error) {
	if a.Categories == nil {
		a.Categories = map[string]counts{}
	}
	for name, c := range b.Categories {
		ac := a.Categories[name]
		ac.add(c)
		a.Categories[name] = ac
	}
	a.Excluded += b.Excluded
	a.Unlabelled += b.Unlabelled
	return a, nil
}

// groupRows are the rows of one group (overall or a shape category). Undefined ratios are left out.
func groupRows(group string, c counts, overall bool) []sdk.Row {
	var rows []sdk.Row
	add := func(metric string, v float64, n int64) {
		rows = append(rows, sdk.Row{Metric: metric, Group: group, Value: v, N: n})
	}
	if cue := c.Shape + c.Texture; cue > 0 {
		add("shape_bias", float64(c.Shape)/float64(cue), cue)
	} else {
		add("shape_bias_undefined", 1, c.N)
	}
	if overall && c.N > 0 {
		n := float64(c.N)
		add("shape_fraction", float64(c.Shape)/n, c.N)
		add("texture_fraction", float64(c.Texture)/n, c.N)
		add("other_fraction", float64(c.Other)/n, c.N)
		add("cue_accuracy", float64(c.Shape+c.Texture)/n, c.N)
	}
	add("shape_count", float64(c.Shape), c.N)
	add("texture_count", float64(c.Texture), c.N)
	add("other_count", float64(c.Other), c.N)
	return rows
}

func (shapebias) Report(_ params.Values, _ sdk.Model, s state) ([]sdk.Row, error) {
	names := make([]string, 0, len(s.Categories))
	var total counts
	for name, c := range s.Categories {
		names = append(names, name)
		total.add(c)
	}
	sort.Strings(names)
	rows := groupRows("", total, true)
	rows = append(rows, sdk.Row{Metric: "excluded", Value: float64(s.Excluded), N: s.Excluded})
	if s.Unlabelled > 0 {
		rows = append(rows, sdk.Row{Metric: "unlabelled", Value: float64(s.Unlabelled), N: s.Unlabelled})
	}
	for _, name := range names {
		if c := s.Categories[name]; c.N > 0 {
			rows = append(rows, groupRows("category="+name, c, false)...)
		}
	}
	return rows, nil
}

// Samples emits each sample's decision and outcome.
func (shapebias) Samples(p params.Values, m sdk.Model, batch arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error) {
	pl, err := newPlan(mappingSpec(p), m)
	if err != nil {
		return nil, err
	}
	ids, err := arrowio.StringColumn(batch, arrowio.ColSampleID)
	if err != nil {
		return nil, err
	}
	c, err := pl.judge(batch)
	if err != nil {
		return nil, err
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColShapeLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: arrowio.ColTextureLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: "decision", Type: arrow.PrimitiveTypes.Int32},
		{Name: "outcome", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(ids, nil)
	b.Field(1).(*array.Int32Builder).AppendValues(c.shape, nil)
	b.Field(2).(*array.Int32Builder).AppendValues(c.texture, nil)
	for _, v := range c.verdicts {
		b.Field(3).(*array.Int32Builder).Append(v.decision)
		b.Field(4).(*array.StringBuilder).Append(v.outcome.String())
	}
	return b.NewRecordBatch(), nil
}
