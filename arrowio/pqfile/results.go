package pqfile

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/vistudy/vistudy/arrowio"
)

// WriteResults writes rows (sorted) to path as the tidy results table: the fixed columns, then one
// typed column per group key (null where a row's group lacks the key).
func WriteResults(path string, rows []arrowio.Result, mem memory.Allocator) error {
	rows = slices.Clone(rows)
	arrowio.SortResults(rows)
	cols, err := arrowio.ResultColumns(rows)
	if err != nil {
		return fmt.Errorf("arrowio: write %s: %w", path, err)
	}
	schema := arrowio.ResultsFileSchema(cols)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	nfixed := len(arrowio.ResultsSchema.Fields())
	for _, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.Model)
		b.Field(1).(*array.StringBuilder).Append(r.Stage)
		b.Field(2).(*array.StringBuilder).Append(r.Metric)
		b.Field(3).(*array.StringBuilder).Append(r.Group)
		b.Field(4).(*array.Float64Builder).Append(r.Value)
		b.Field(5).(*array.Int64Builder).Append(r.N)
		kv, _ := arrowio.ParseGroup(r.Group) // checked by arrowio.ResultColumns
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
func ReadResults(path string, mem memory.Allocator) ([]arrowio.Result, error) {
	rec, err := ReadParquet(path, mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	idx := make([]int, len(arrowio.ResultsSchema.Fields()))
	for i, f := range arrowio.ResultsSchema.Fields() {
		got := rec.Schema().FieldIndices(f.Name)
		if len(got) != 1 || !arrow.TypeEqual(rec.Schema().Field(got[0]).Type, f.Type) {
			return nil, fmt.Errorf("arrowio: %s is not a results table: want column %s (%s), schema %s", path, f.Name, f.Type, rec.Schema())
		}
		idx[i] = got[0]
	}
	rows := make([]arrowio.Result, rec.NumRows())
	for i := range rows {
		rows[i] = arrowio.Result{
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

// WriteErrors writes error rows, sorted by stage, model and sample id, to path.
func WriteErrors(path string, rows []arrowio.ErrorRow, mem memory.Allocator) error {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b arrowio.ErrorRow) int {
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Model, b.Model), cmp.Compare(a.SampleID, b.SampleID),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Reason, b.Reason))
	})
	rows = slices.Compact(rows)
	b := array.NewRecordBuilder(mem, arrowio.ErrorsSchema)
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
	return WriteParquet(path, arrowio.ErrorsSchema, []arrow.RecordBatch{rec}, mem)
}

// ReadErrors reads errors.parquet (also the first layout: path, stage, reason, whose path was the
// sample id).
func ReadErrors(path string, mem memory.Allocator) ([]arrowio.ErrorRow, error) {
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
	rows := make([]arrowio.ErrorRow, rec.NumRows())
	for i := range rows {
		rows[i] = arrowio.ErrorRow{SampleID: get(id, i), Path: get(p, i), Dataset: get(ds, i), Stage: get(st, i), Model: get(m, i), Reason: get(reason, i)}
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
