package arrowio

import (
	"cmp"
	"fmt"
	"slices"

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

// ResultsSchema is the schema of results.parquet: model, stage, metric, group, value, n.
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

// WriteResults writes rows (sorted) to path as the tidy results table.
func WriteResults(path string, rows []Result, mem memory.Allocator) error {
	rows = slices.Clone(rows)
	SortResults(rows)
	b := array.NewRecordBuilder(mem, ResultsSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.Model)
		b.Field(1).(*array.StringBuilder).Append(r.Stage)
		b.Field(2).(*array.StringBuilder).Append(r.Metric)
		b.Field(3).(*array.StringBuilder).Append(r.Group)
		b.Field(4).(*array.Float64Builder).Append(r.Value)
		b.Field(5).(*array.Int64Builder).Append(r.N)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return WriteParquet(path, ResultsSchema, []arrow.RecordBatch{rec}, mem)
}

// ReadResults reads a results table written by WriteResults.
func ReadResults(path string, mem memory.Allocator) ([]Result, error) {
	rec, err := ReadParquet(path, mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	if !sameFields(rec.Schema(), ResultsSchema) {
		return nil, fmt.Errorf("arrowio: %s is not a results table: schema %s", path, rec.Schema())
	}
	rows := make([]Result, rec.NumRows())
	for i := range rows {
		rows[i] = Result{
			Model:  rec.Column(0).(*array.String).Value(i),
			Stage:  rec.Column(1).(*array.String).Value(i),
			Metric: rec.Column(2).(*array.String).Value(i),
			Group:  rec.Column(3).(*array.String).Value(i),
			Value:  rec.Column(4).(*array.Float64).Value(i),
			N:      rec.Column(5).(*array.Int64).Value(i),
		}
	}
	return rows, nil
}

// ErrorRow is one skipped input of errors.parquet.
type ErrorRow struct {
	Path   string `json:"path"`
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}

// ErrorsSchema is the schema of errors.parquet: path, stage, reason.
var ErrorsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "path", Type: arrow.BinaryTypes.String},
	{Name: "stage", Type: arrow.BinaryTypes.String},
	{Name: "reason", Type: arrow.BinaryTypes.String},
}, nil)

// WriteErrors writes error rows, sorted by stage and path, to path.
func WriteErrors(path string, rows []ErrorRow, mem memory.Allocator) error {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b ErrorRow) int {
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Reason, b.Reason))
	})
	rows = slices.Compact(rows)
	b := array.NewRecordBuilder(mem, ErrorsSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.Path)
		b.Field(1).(*array.StringBuilder).Append(r.Stage)
		b.Field(2).(*array.StringBuilder).Append(r.Reason)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return WriteParquet(path, ErrorsSchema, []arrow.RecordBatch{rec}, mem)
}

// ReadErrors reads errors.parquet.
func ReadErrors(path string, mem memory.Allocator) ([]ErrorRow, error) {
	rec, err := ReadParquet(path, mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	if !sameFields(rec.Schema(), ErrorsSchema) {
		return nil, fmt.Errorf("arrowio: %s is not an errors table: schema %s", path, rec.Schema())
	}
	rows := make([]ErrorRow, rec.NumRows())
	for i := range rows {
		rows[i] = ErrorRow{
			Path:   rec.Column(0).(*array.String).Value(i),
			Stage:  rec.Column(1).(*array.String).Value(i),
			Reason: rec.Column(2).(*array.String).Value(i),
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
