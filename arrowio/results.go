package arrowio

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Result is one row of the tidy results table.
type Result struct {
	Model  string  `json:"model"`
	Stage  string  `json:"stage"`
	Metric string  `json:"metric"`
	Group  string  `json:"group"`
	Value  float64 `json:"value"`
	N      int64   `json:"n"`
}

// ResultsSchema is the fixed part of results.parquet: model, stage, metric, group, value, n. The
// file adds one typed column per key its groups use (ResultColumns).
var ResultsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "model", Type: arrow.BinaryTypes.String},
	{Name: "stage", Type: arrow.BinaryTypes.String},
	{Name: "metric", Type: arrow.BinaryTypes.String},
	{Name: "group", Type: arrow.BinaryTypes.String},
	{Name: "value", Type: arrow.PrimitiveTypes.Float64},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// SortResults orders rows by stage, model, metric and group, the order results.parquet is written in.
func SortResults(rows []Result) {
	slices.SortStableFunc(rows, func(a, b Result) int {
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Model, b.Model),
			cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Group, b.Group))
	})
}

// GroupColumn is one typed column that results.parquet derives from a group key.
type GroupColumn struct {
	Key  string         // the group key (band, eps, category, …)
	Name string         // the column's name: the key, or group_<key> where the key is a fixed column's name
	Type arrow.DataType // int64 when every value is an integer, float64 when every value is a number, else string
}

// ResultColumns returns the typed columns of rows' group keys, sorted by name: a key's column is int64
// when every value it takes parses as an integer, float64 when every value parses as a number, and
// string otherwise. It fails on a group that is not key=value pairs.
func ResultColumns(rows []Result) ([]GroupColumn, error) {
	kinds := map[string]int{} // 0 int, 1 float, 2 string
	for _, r := range rows {
		kv, err := ParseGroup(r.Group)
		if err != nil {
			return nil, fmt.Errorf("stage %s, metric %s: %w", r.Stage, r.Metric, err)
		}
		for k, v := range kv {
			kinds[k] = max(kinds[k], valueKind(v))
		}
	}
	fixed := map[string]bool{}
	for _, f := range ResultsSchema.Fields() {
		fixed[f.Name] = true
	}
	var out []GroupColumn
	for k, kind := range kinds {
		c := GroupColumn{Key: k, Name: k, Type: arrow.BinaryTypes.String}
		if fixed[k] {
			c.Name = "group_" + k
		}
		switch kind {
		case 0:
			c.Type = arrow.PrimitiveTypes.Int64
		case 1:
			c.Type = arrow.PrimitiveTypes.Float64
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b GroupColumn) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// valueKind classifies one group value: 0 an integer, 1 another number, 2 text.
func valueKind(v string) int {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return 1
	}
	return 2
}

// ResultsFileSchema is the schema WriteResults writes for these typed columns.
func ResultsFileSchema(cols []GroupColumn) *arrow.Schema {
	fields := slices.Clone(ResultsSchema.Fields())
	for _, c := range cols {
		fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// WriteResults writes rows (sorted) to path as the tidy results table: the fixed columns, then one
// typed column per group key (null where a row's group lacks the key).
func WriteResults(path string, rows []Result, mem memory.Allocator) error {
	rows = slices.Clone(rows)
	SortResults(rows)
	cols, err := ResultColumns(rows)
	if err != nil {
		return fmt.Errorf("arrowio: write %s: %w", path, err)
	}
	schema := ResultsFileSchema(cols)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	nfixed := len(ResultsSchema.Fields())
	for _, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.Model)
		b.Field(1).(*array.StringBuilder).Append(r.Stage)
		b.Field(2).(*array.StringBuilder).Append(r.Metric)
		b.Field(3).(*array.StringBuilder).Append(r.Group)
		b.Field(4).(*array.Float64Builder).Append(r.Value)
		b.Field(5).(*array.Int64Builder).Append(r.N)
		kv, _ := ParseGroup(r.Group) // checked by ResultColumns
		for i, c := range cols {
			v, ok := kv[c.Key]
			fb := b.Field(nfixed + i)
			switch {
			case !ok:
				fb.AppendNull()
			case c.Type.ID() == arrow.INT64:
				n, _ := strconv.ParseInt(v, 10, 64)
				fb.(*array.Int64Builder).Append(n)
			case c.Type.ID() == arrow.FLOAT64:
				f, _ := strconv.ParseFloat(v, 64)
				fb.(*array.Float64Builder).Append(f)
			default:
				fb.(*array.StringBuilder).Append(v)
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return WriteParquet(path, schema, []arrow.RecordBatch{rec}, mem)
}

// ReadResults reads a results table written by WriteResults (the typed group columns are derived
// from group, so only the fixed columns are read; a file of the first layout, without them, reads
// the same).
func ReadResults(path string, mem memory.Allocator) ([]Result, error) {
	rec, err := ReadParquet(path, mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	idx := make([]int, len(ResultsSchema.Fields()))
	for i, f := range ResultsSchema.Fields() {
		got := rec.Schema().FieldIndices(f.Name)
		if len(got) != 1 || !arrow.TypeEqual(rec.Schema().Field(got[0]).Type, f.Type) {
			return nil, fmt.Errorf("arrowio: %s is not a results table: want column %s (%s), schema %s", path, f.Name, f.Type, rec.Schema())
		}
		idx[i] = got[0]
	}
	rows := make([]Result, rec.NumRows())
	for i := range rows {
		rows[i] = Result{
			Model:  rec.Column(idx[0]).(*array.String).Value(i),
			Stage:  rec.Column(idx[1]).(*array.String).Value(i),
			Metric: rec.Column(idx[2]).(*array.String).Value(i),
			Group:  rec.Column(idx[3]).(*array.String).Value(i),
			Value:  rec.Column(idx[4]).(*array.Float64).Value(i),
			N:      rec.Column(idx[5]).(*array.Int64).Value(i),
		}
	}
	return rows, nil
}

// ErrorRow is one skipped input of errors.parquet.
type ErrorRow struct {
	SampleID string `json:"sample_id"`         // the sample_id the input would have had in the tables
	Path     string `json:"path"`              // the file as the dataset names it
	Dataset  string `json:"dataset,omitempty"` // the study's dataset
	Stage    string `json:"stage"`             // the stage that skipped it
	Model    string `json:"model,omitempty"`   // the model, "" (null in the file) for a model-free stage
	Reason   string `json:"reason"`            // why, in words
}

// ErrorsSchema is the schema of errors.parquet.
var ErrorsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "sample_id", Type: arrow.BinaryTypes.String},
	{Name: "path", Type: arrow.BinaryTypes.String},
	{Name: "dataset", Type: arrow.BinaryTypes.String},
	{Name: "stage", Type: arrow.BinaryTypes.String},
	{Name: "model", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "reason", Type: arrow.BinaryTypes.String},
}, nil)

// WriteErrors writes error rows, sorted by stage, model and sample id, to path.
func WriteErrors(path string, rows []ErrorRow, mem memory.Allocator) error {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b ErrorRow) int {
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Model, b.Model), cmp.Compare(a.SampleID, b.SampleID),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Reason, b.Reason))
	})
	rows = slices.Compact(rows)
	b := array.NewRecordBuilder(mem, ErrorsSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.SampleID)
		b.Field(1).(*array.StringBuilder).Append(r.Path)
		b.Field(2).(*array.StringBuilder).Append(r.Dataset)
		b.Field(3).(*array.StringBuilder).Append(r.Stage)
		if r.Model == "" {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.StringBuilder).Append(r.Model)
		}
		b.Field(5).(*array.StringBuilder).Append(r.Reason)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return WriteParquet(path, ErrorsSchema, []arrow.RecordBatch{rec}, mem)
}

// ReadErrors reads errors.parquet (also the first layout: path, stage, reason, whose path was the
// sample id).
func ReadErrors(path string, mem memory.Allocator) ([]ErrorRow, error) {
	rec, err := ReadParquet(path, mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	col := func(name string) *array.String {
		if ix := rec.Schema().FieldIndices(name); len(ix) == 1 {
			c, _ := rec.Column(ix[0]).(*array.String)
			return c
		}
		return nil
	}
	get := func(c *array.String, i int) string {
		if c == nil || c.IsNull(i) {
			return ""
		}
		return c.Value(i)
	}
	id, p, ds, st, m, reason := col("sample_id"), col("path"), col("dataset"), col("stage"), col("model"), col("reason")
	if p == nil || st == nil || reason == nil {
		return nil, fmt.Errorf("arrowio: %s is not an errors table: schema %s", path, rec.Schema())
	}
	rows := make([]ErrorRow, rec.NumRows())
	for i := range rows {
		rows[i] = ErrorRow{SampleID: get(id, i), Path: get(p, i), Dataset: get(ds, i), Stage: get(st, i), Model: get(m, i), Reason: get(reason, i)}
		if id == nil {
			rows[i].SampleID = rows[i].Path
		}
	}
	return rows, nil
}

// sameFields reports whether two schemas have the same field names and types (metadata aside).
func sameFields(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		if a.Field(i).Name != b.Field(i).Name || !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}
