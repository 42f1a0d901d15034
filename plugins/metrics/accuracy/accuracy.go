package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// maxTopK bounds how many k values one instance reports.
const maxTopK = 100

// accuracy is top-k accuracy over the dataset's label space.
type accuracy struct{}

// state counts samples and hits; integers merge exactly.
type state struct {
	N          int64              `json:"n"`                // labelled samples seen
	Unlabelled int64              `json:"unlabelled"`       // samples without a label (label < 0), excluded
	Hits       map[int64]int64    `json:"hits"`             // k → samples whose label is within the top k
	Groups     map[string]*counts `json:"groups,omitempty"` // group_by: "k=v,…" → the same counts
}

// counts are one group's labelled samples and hits per k.
type counts struct {
	N    int64           `json:"n"`
	Hits map[int64]int64 `json:"hits"`
}

func (accuracy) Info() sdk.Info {
	return sdk.Info{
		Name: "accuracy", Version: "0.1.0",
		Description: "top-k accuracy: a sample counts for k when its label ranks among the first k (ties go to the lower class index, as for pred)",
		Params: []params.Spec{{Name: "topk", Type: params.IntList, Default: []int{1, 5},
			Description: "the k values to report, each between 1 and the model's number of classes", Min: params.Bound(1),
			MinLen: 1, MaxLen: maxTopK},
			{Name: "classes", Type: params.String, Default: "model", Choices: []string{"model", "dataset"},
				Description: "rank the label among all the model's classes, or among the dataset's only (ImageNet-R/-A: the arg-max over the classes the dataset has)"},
			{Name: "group_by", Type: params.StringList, MaxLen: 4,
				Description: "columns of the predictions (string or integer: imagenet-c's corruption and severity) whose values also group the rows, as group key=value pairs"}},
		Requires: []string{arrowio.ColLabel, arrowio.ColLogits},
		Figures:  []sdk.Figure{{Kind: sdk.FigureSweep, Metric: "top1", Label: "top-1 accuracy"}},
		Metrics: []sdk.MetricInfo{
			{Name: "top1", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher, Headline: true, Label: "top-1",
				Meaning: "fraction of samples whose label is the arg-max class"},
			{Name: "top*", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher,
				Meaning: "fraction of samples whose label ranks among the first k classes"},
			{Name: "unlabelled", Diagnostic: true, Unit: "count", Meaning: "samples without a label (not counted in the accuracies)"},
		},
	}
}

func (accuracy) Init(p params.Values, m sdk.Model) (state, error) {
	s := state{Hits: map[int64]int64{}}
	if p.String("classes") == "dataset" && len(m.DatasetToModel) == 0 {
		return s, fmt.Errorf("classes: dataset ranks among the dataset's classes, but model %s's labels are the dataset's own (no subset): give the dataset its own classes (class folders, or labels: a class file)", m.Name)
	}
	for _, k := range p.Ints("topk") {
		if m.NumClasses > 0 && k > m.NumClasses {
			return s, fmt.Errorf("topk %d exceeds the %d classes of model %s", k, m.NumClasses, m.Name)
		}
		s.Hits[int64(k)] = 0
	}
	return s, nil
}

func (accuracy) Accumulate(p params.Values, m sdk.Model, s state, batch arrow.RecordBatch) (state, error) {
	var among []int32
	if p.String("classes") == "dataset" {
		among = m.DatasetToModel
	}
	labels, err := arrowio.Int32Column(batch, arrowio.ColLabel)
	if err != nil {
		return s, err
	}
	logits, err := arrowio.TensorColumn(batch, arrowio.ColLogits)
	if err != nil {
		return s, err
	}
	if n := logits.Shape(); len(n) == 1 {
		for k := range s.Hits {
			if k > int64(n[0]) {
				return s, fmt.Errorf("topk %d exceeds the model's %d outputs", k, n[0])
			}
		}
	}
	groups, err := groupKeys(batch, p.Strings("group_by"))
	if err != nil {
		return s, err
	}
	for i, y := range labels {
		row := logits.Row(i)
		if err := sdk.CheckLogits(row); err != nil {
			return s, fmt.Errorf("%s: %w", sdk.SampleName(batch, i), err)
		}
		if y < 0 {
			s.Unlabelled++
			continue
		}
		if int(y) >= len(row) {
			return s, fmt.Errorf("sample %d has label %d but the model has %d classes: the dataset's label space does not match the model's", i, y, len(row))
		}
		s.N++
		r := int64(sdk.Rank(row, y))
		if among != nil {
			r = int64(sdk.RankAmong(row, y, among))
		}
		var g *counts
		if groups != nil {
			if s.Groups == nil {
				s.Groups = map[string]*counts{}
			}
			if g = s.Groups[groups[i]]; g == nil {
				g = &counts{Hits: map[int64]int64{}}
				s.Groups[groups[i]] = g
			}
			g.N++
		}
		for k := range s.Hits {
			if r < k {
				s.Hits[k]++
				if g != nil {
					g.Hits[k]++
				}
			}
		}
	}
	return s, nil
}

// groupKeys returns each row's group ("corruption=fog,severity=3") from the named columns, or nil
// when none are named.
func groupKeys(batch arrow.RecordBatch, cols []string) ([]string, error) {
	if len(cols) == 0 {
		return nil, nil
	}
	out := make([]string, batch.NumRows())
	for _, c := range cols {
		vals, err := columnText(batch, c)
		if err != nil {
			return nil, fmt.Errorf("group_by: %w", err)
		}
		for i, v := range vals {
			if strings.ContainsAny(v, ",=") {
				return nil, fmt.Errorf("group_by: column %s: value %q holds ',' or '='", c, v)
			}
			out[i] = arrowio.JoinGroup(out[i], c+"="+v)
		}
	}
	return out, nil
}

// columnText returns a string, dictionary-string or integer column as text.
func columnText(batch arrow.RecordBatch, name string) ([]string, error) {
	idx := batch.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("the predictions have no column %q", name)
	}
	col := batch.Column(idx[0])
	out := make([]string, col.Len())
	switch a := col.(type) {
	case *array.Int64:
		for i := range out {
			out[i] = strconv.FormatInt(a.Value(i), 10)
		}
	case *array.Int32:
		for i := range out {
			out[i] = strconv.FormatInt(int64(a.Value(i)), 10)
		}
	default:
		s, err := arrowio.StringColumn(batch, name)
		if err != nil {
			return nil, fmt.Errorf("column %q: want a string or integer column: %w", name, err)
		}
		copy(out, s)
	}
	for i := range out {
		if col.IsNull(i) {
			return nil, fmt.Errorf("column %q: row %d is null", name, i)
		}
	}
	return out, nil
}

func (accuracy) Merge(_ params.Values, _ sdk.Model, a, b state) (state, error) {
	a.N += b.N
	a.Unlabelled += b.Unlabelled
	for k, v := range b.Hits {
		a.Hits[k] += v
	}
	for g, c := range b.Groups {
		if a.Groups == nil {
			a.Groups = map[string]*counts{}
		}
		into := a.Groups[g]
		if into == nil {
			into = &counts{Hits: map[int64]int64{}}
			a.Groups[g] = into
		}
		into.N += c.N
		for k, v := range c.Hits {
			into.Hits[k] += v
		}
	}
	return a, nil
}

func (accuracy) Report(_ params.Values, _ sdk.Model, s state) ([]sdk.Row, error) {
	ks := make([]int64, 0, len(s.Hits))
	for k := range s.Hits {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var rows []sdk.Row
	for _, k := range ks {
		v := 0.0
		if s.N > 0 {
			v = float64(s.Hits[k]) / float64(s.N)
		}
		rows = append(rows, sdk.Row{Metric: fmt.Sprintf("top%d", k), Value: v, N: s.N})
	}
	names := make([]string, 0, len(s.Groups))
	for g := range s.Groups {
		names = append(names, g)
	}
	slices.Sort(names)
	for _, g := range names {
		c := s.Groups[g]
		for _, k := range ks {
			v := 0.0
			if c.N > 0 {
				v = float64(c.Hits[k]) / float64(c.N)
			}
			rows = append(rows, sdk.Row{Metric: fmt.Sprintf("top%d", k), Group: g, Value: v, N: c.N})
		}
	}
	if s.Unlabelled > 0 {
		rows = append(rows, sdk.Row{Metric: "unlabelled", Value: float64(s.Unlabelled), N: s.Unlabelled})
	}
	return rows, nil
}

// Samples emits each sample's rank of its true label (0 = top-1 correct).
func (accuracy) Samples(_ params.Values, _ sdk.Model, batch arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error) {
	ids, err := arrowio.StringColumn(batch, arrowio.ColSampleID)
	if err != nil {
		return nil, err
	}
	labels, err := arrowio.Int32Column(batch, arrowio.ColLabel)
	if err != nil {
		return nil, err
	}
	logits, err := arrowio.TensorColumn(batch, arrowio.ColLogits)
	if err != nil {
		return nil, err
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: "rank", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i, y := range labels {
		b.Field(0).(*array.StringBuilder).Append(ids[i])
		b.Field(1).(*array.Int32Builder).Append(y)
		if y < 0 || int(y) >= len(logits.Row(i)) {
			b.Field(2).AppendNull()
			continue
		}
		b.Field(2).(*array.Int32Builder).Append(int32(sdk.Rank(logits.Row(i), y)))
	}
	return b.NewRecordBatch(), nil
}
