package arrowio

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
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
