package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// sample is one row of a hand-made predictions batch.
type sample struct {
	id             string
	shape, texture int32
	logits         []float32
}

// newBatch builds a predictions batch of samples whose logits all have length k.
func newBatch(t *testing.T, mem memory.Allocator, k int, ss []sample) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: arrowio.ColShapeLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: arrowio.ColTextureLabel, Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	var flat []float32
	for _, s := range ss {
		b.Field(0).(*array.StringBuilder).Append(s.id)
		b.Field(1).(*array.Int32Builder).Append(s.shape)
		b.Field(2).(*array.Int32Builder).Append(s.shape)
		b.Field(3).(*array.Int32Builder).Append(s.texture)
		flat = append(flat, s.logits...)
	}
	base := b.NewRecordBatch()
	defer base.Release()
	logits, err := arrowio.NewTensorArray(mem, []int{k}, flat)
	if err != nil {
		t.Fatal(err)
	}
	defer logits.Release()
	rec, err := arrowio.SetColumn(base, arrow.Field{Name: arrowio.ColLogits, Type: logits.DataType()}, logits)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// probLogits returns k logits whose softmax puts p[i] on each listed index and spreads the rest
// of the mass evenly over the other indices.
func probLogits(k int, p map[int]float64) []float32 {
	rest := 1.0
	for _, v := range p {
		rest -= v
	}
	out := make([]float32, k)
	for i := range out {
		out[i] = float32(math.Log(rest / float64(k-len(p))))
	}
	for i, v := range p {
		out[i] = float32(math.Log(v))
	}
	return out
}

// Dataset label indices of the sixteen categories used below.
const (
	airplane, bear, car, cat, clock, dog, elephant, knife = 0, 1, 6, 7, 9, 10, 11, 13
)

// handSamples are five cue-conflict samples whose decisions are worked out by hand (ImageNet indices:
// airplane 404; bear 294-297; cat 281-286; dog 152-200 minus 192 (109 indices); knife 499; elephant 385-386).
var handSamples = []sample{
	// p(152 dog) = 0.30, p(404 airplane) = 0.20, the other 998 classes 0.5/998 ≈ 0.000501 each.
	// Means: airplane 0.20; dog (0.30 + 108·0.000501)/109 ≈ 0.00325; the rest ≈ 0.000501.
	// Decision airplane = texture, although the arg-max of the 1000 classes (152) is a dog.
	{"dog1-airplane2.png", dog, airplane, probLogits(1000, map[int]float64{152: 0.30, 404: 0.20})},
	// bear 294-297 each 0.1, cat 281-286 each 0.05, knife 0.08, the other 989 classes 0.22/989.
	// Means: bear 0.1 > knife 0.08 > cat 0.05: decision bear = shape.
	{"bear1-cat1.png", bear, cat, probLogits(1000, map[int]float64{294: .1, 295: .1, 296: .1, 297: .1,
		281: .05, 282: .05, 283: .05, 284: .05, 285: .05, 286: .05, 499: .08})},
	// knife 0.5, the other 999 classes 0.5/999: decision knife = neither cue: other.
	{"car1-clock1.png", car, clock, probLogits(1000, map[int]float64{499: 0.5})},
	// shape == texture: excluded from every count but `excluded`; its decision is still cat.
	{"cat1-cat2.png", cat, cat, probLogits(1000, map[int]float64{281: 0.9})},
	// no texture label (a silhouette): unlabelled; decision elephant.
	{"elephant3.png", elephant, -1, probLogits(1000, map[int]float64{385: 0.6})},
}

// handRows is the report of handSamples: shape 1 (bear), texture 1 (dog), other 1 (car) of N = 3.
var handRows = []sdk.Row{
	{Metric: "shape_bias", Value: 0.5, N: 2},
	{Metric: "shape_fraction", Value: 1.0 / 3, N: 3},
	{Metric: "texture_fraction", Value: 1.0 / 3, N: 3},
	{Metric: "other_fraction", Value: 1.0 / 3, N: 3},
	{Metric: "cue_accuracy", Value: 2.0 / 3, N: 3},
	{Metric: "shape_count", Value: 1, N: 3},
	{Metric: "texture_count", Value: 1, N: 3},
	{Metric: "other_count", Value: 1, N: 3},
	{Metric: "excluded", Value: 1, N: 1},
	{Metric: "unlabelled", Value: 1, N: 1},
	{Metric: "shape_bias", Group: "category=bear", Value: 1, N: 1},
	{Metric: "shape_count", Group: "category=bear", Value: 1, N: 1},
	{Metric: "texture_count", Group: "category=bear", Value: 0, N: 1},
	{Metric: "other_count", Group: "category=bear", Value: 0, N: 1},
	{Metric: "shape_bias_undefined", Group: "category=car", Value: 1, N: 1},
	{Metric: "shape_count", Group: "category=car", Value: 0, N: 1},
	{Metric: "texture_count", Group: "category=car", Value: 0, N: 1},
	{Metric: "other_count", Group: "category=car", Value: 1, N: 1},
	{Metric: "shape_bias", Group: "category=dog", Value: 0, N: 1},
	{Metric: "shape_count", Group: "category=dog", Value: 0, N: 1},
	{Metric: "texture_count", Group: "category=dog", Value: 1, N: 1},
	{Metric: "other_count", Group: "category=dog", Value: 0, N: 1},
}

// handSampleRows are the per-sample (decision, outcome) of handSamples.
var handSampleRows = []verdict{{airplane, outTexture}, {bear, outShape}, {knife, outOther}, {cat, outExcluded}, {elephant, outUnlabelled}}

var imagenetModel = sdk.Model{Name: "resnet", NumClasses: 1000, LabelSpace: "imagenet1k", DatasetClasses: sixteen}

// run folds batches into one state and reports it.
func run(t *testing.T, p params.Values, m sdk.Model, batches ...arrow.RecordBatch) (state, []sdk.Row) {
	t.Helper()
	var sb shapebias
	s, err := sb.Init(p, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if s, err = sb.Accumulate(p, m, s, b); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := sb.Report(p, m, s)
	if err != nil {
		t.Fatal(err)
	}
	return s, rows
}

func mustParams(t *testing.T, js string) params.Values {
	t.Helper()
	p, err := params.Parse(shapebias{}.Info().Params, js)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sampleVerdicts reads the decision and outcome columns of a Samples batch.
func sampleVerdicts(t *testing.T, rec arrow.RecordBatch) []verdict {
	t.Helper()
	dec, err := arrowio.Int32Column(rec, "decision")
	if err != nil {
		t.Fatal(err)
	}
	out, err := arrowio.StringColumn(rec, "outcome")
	if err != nil {
		t.Fatal(err)
	}
	vs := make([]verdict, len(dec))
	for i := range dec {
		o := outcome(-1)
		for k, name := range outcomeNames {
			if name == out[i] {
				o = outcome(k)
			}
		}
		vs[i] = verdict{dec[i], o}
	}
	return vs
}

func TestKnownAnswers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := newBatch(t, mem, 1000, handSamples)
	defer batch.Release()
	for _, mapping := range []string{`{}`, `{"mapping": "auto"}`, `{"mapping": "imagenet16"}`} {
		t.Run(mapping, func(t *testing.T) {
			p := mustParams(t, mapping)
			_, rows := run(t, p, imagenetModel, batch)
			if !reflect.DeepEqual(rows, handRows) {
				t.Fatalf("rows:\n%v\nwant\n%v", rows, handRows)
			}
			rec, err := shapebias{}.Samples(p, imagenetModel, batch, mem)
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			if got := sampleVerdicts(t, rec); !reflect.DeepEqual(got, handSampleRows) {
				t.Fatalf("sample verdicts = %v, want %v", got, handSampleRows)
			}
			ids, _ := arrowio.StringColumn(rec, arrowio.ColSampleID)
			tex, _ := arrowio.Int32Column(rec, arrowio.ColTextureLabel)
			if ids[4] != "elephant3.png" || tex[0] != airplane || tex[4] != -1 {
				t.Fatalf("sample rows carry ids %v, textures %v", ids, tex)
			}
		})
	}
}

func TestDecisionOutsideDataset(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// The dataset knows 3 of the 16 categories; the model says knife (mean 0.5 against ≈ 0.0005).
	m := sdk.Model{NumClasses: 1000, DatasetClasses: []string{"airplane", "bear", "dog"}}
	batch := newBatch(t, mem, 1000, []sample{{"dog1-bear1.png", 2, 1, probLogits(1000, map[int]float64{499: 0.5})}})
	defer batch.Release()
	p := mustParams(t, `{}`)
	s, _ := run(t, p, m, batch)
	if want := (counts{N: 1, Other: 1}); s.Categories["dog"] != want {
		t.Fatalf("dog counts = %+v, want %+v", s.Categories["dog"], want)
	}
	rec, err := shapebias{}.Samples(p, m, batch, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if got, want := sampleVerdicts(t, rec), []verdict{{-1, outOther}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("verdicts = %v, want %v", got, want)
	}
}

func TestIdentityMapping(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// Model classes and dataset categories are the same names in other orders: matching is by name.
	m := sdk.Model{Name: "zoo", NumClasses: 3, LabelSpace: "classes.txt",
		ClassNames: []string{"cat", "dog", "car"}, DatasetClasses: []string{"car", "cat", "dog"}}
	const carD, catD, dogD = 0, 1, 2
	batch := newBatch(t, mem, 3, []sample{
		{"a", carD, dogD, []float32{0, 2, 1}}, // model class 1 = dog: texture
		{"b", catD, carD, []float32{3, 0, 1}}, // model class 0 = cat: shape
		{"c", dogD, catD, []float32{0, 0, 5}}, // model class 2 = car: other
		{"d", catD, dogD, []float32{4, 0, 1}}, // cat: shape
	})
	defer batch.Release()
	for _, mapping := range []string{`{}`, `{"mapping": "identity"}`} {
		t.Run(mapping, func(t *testing.T) {
			p := mustParams(t, mapping)
			s, _ := run(t, p, m, batch)
			want := map[string]counts{"car": {N: 1, Texture: 1}, "cat": {N: 2, Shape: 2}, "dog": {N: 1, Other: 1}}
			if !reflect.DeepEqual(s.Categories, want) {
				t.Fatalf("counts = %+v, want %+v", s.Categories, want)
			}
			rec, err := shapebias{}.Samples(p, m, batch, mem)
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			wantV := []verdict{{dogD, outTexture}, {catD, outShape}, {carD, outOther}, {catD, outShape}}
			if got := sampleVerdicts(t, rec); !reflect.DeepEqual(got, wantV) {
				t.Fatalf("verdicts = %v, want %v", got, wantV)
			}
		})
	}
	bad := m
	bad.DatasetClasses = []string{"car", "cat", "dog", "bird"}
	_, err := (shapebias{}).Init(mustParams(t, `{}`), bad)
	checkError(t, err, `"bird"`) // a dataset category the model lacks
}

func TestFileMappingUsesMeanOverIndices(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := writeFile(t, "shapes.json", `{"round": [0, 1], "square": [2]}`)
	m := sdk.Model{NumClasses: 3, DatasetClasses: []string{"square", "round"}}
	// p = (0.5, 0.1, 0.4): round's mean is 0.3 < square's 0.4, though class 0 (round) is the arg-max.
	batch := newBatch(t, mem, 3, []sample{{"round1-square1", 1, 0, probLogits(3, map[int]float64{0: .5, 1: .1, 2: .4})}})
	defer batch.Release()
	s, _ := run(t, mustParams(t, fmt.Sprintf(`{"mapping": %q}`, path)), m, batch)
	if want := (counts{N: 1, Texture: 1}); s.Categories["round"] != want {
		t.Fatalf("round counts = %+v, want %+v", s.Categories["round"], want)
	}
	wide := writeFile(t, "wide.json", `{"round": [0, 7], "square": [2]}`)
	_, err := (shapebias{}).Init(mustParams(t, fmt.Sprintf(`{"mapping": %q}`, wide)), m)
	checkError(t, err, "model index 7, but the model has 3 outputs")
}

func TestAccumulateErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	m := sdk.Model{NumClasses: 3, ClassNames: []string{"a", "b", "c"}, DatasetClasses: []string{"a", "b", "c"}}
	nan := float32(math.NaN())
	ninf := float32(math.Inf(-1))
	tests := []struct {
		name    string
		k       int
		s       sample
		wantErr string
	}{
		{"NaN logit", 3, sample{"x", 0, 1, []float32{0, nan, 1}}, "logit 1 is NaN"},
		{"all -Inf", 3, sample{"x", 0, 1, []float32{ninf, ninf, ninf}}, "every logit is -Inf"},
		{"+Inf logit", 3, sample{"x", 0, 1, []float32{0, 0, float32(math.Inf(1))}}, `sample "x": the model's output is not finite: logit 2 is +Inf`},
		{"NaN in an unlabelled row", 3, sample{"x", -1, 1, []float32{nan, 0, 1}}, "logit 0 is NaN"},
		{"label beyond the dataset", 3, sample{"x", 0, 5, []float32{0, 0, 1}}, "cue label 5"},
		{"fewer outputs than the mapping", 2, sample{"x", 0, 1, []float32{0, 1}}, "model has 2 outputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch := newBatch(t, mem, tt.k, []sample{tt.s})
			defer batch.Release()
			p := mustParams(t, `{}`)
			s, err := shapebias{}.Init(p, m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = (shapebias{}).Accumulate(p, m, s, batch)
			checkError(t, err, tt.wantErr)
		})
	}
}

// randomSamples draws n cue-conflict samples over the sixteen, a third of them leaning to the shape,
// a third to the texture, with some shape == texture.
func randomSamples(r *rand.Rand, n int) []sample {
	ss := make([]sample, n)
	for i := range ss {
		s := sample{id: fmt.Sprint(i), shape: int32(r.IntN(16)), texture: int32(r.IntN(16)), logits: make([]float32, 1000)}
		for k := range s.logits {
			s.logits[k] = float32(r.NormFloat64())
		}
		in16, _ := imagenet16()
		switch i % 3 {
		case 0:
			s.logits[in16.indices[s.shape][0]] += 6
		case 1:
			s.logits[in16.indices[s.texture][0]] += 6
		}
		ss[i] = s
	}
	return ss
}

// TestMergeEqualsOnePass splits 300 random samples into three batches: the state merged from
// per-batch states (through JSON, as across processes) equals the one-pass state.
func TestMergeEqualsOnePass(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ss := randomSamples(rand.New(rand.NewPCG(1, 2)), 300)
	var batches []arrow.RecordBatch
	for _, part := range [][]sample{ss[:70], ss[70:200], ss[200:]} {
		b := newBatch(t, mem, 1000, part)
		defer b.Release()
		batches = append(batches, b)
	}
	p := mustParams(t, `{}`)
	one, oneRows := run(t, p, imagenetModel, batches...)
	var total counts
	for _, c := range one.Categories {
		total.add(c)
	}
	if total.Shape == 0 || total.Texture == 0 || total.Other == 0 || one.Excluded == 0 || total.N+one.Excluded != 300 {
		t.Fatalf("one pass counts %+v, excluded %d: want every outcome present and 300 samples", total, one.Excluded)
	}

	var sb shapebias
	merged, err := sb.Init(p, imagenetModel)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		part, _ := run(t, p, imagenetModel, b)
		js, err := json.Marshal(part)
		if err != nil {
			t.Fatal(err)
		}
		var back state
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		if merged, err = sb.Merge(p, imagenetModel, merged, back); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(merged, one) {
		t.Fatalf("merged state %+v\none pass     %+v", merged, one)
	}
	mergedRows, err := sb.Report(p, imagenetModel, merged)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mergedRows, oneRows) {
		t.Fatalf("merged rows differ from one pass:\n%v\n%v", mergedRows, oneRows)
	}
}
