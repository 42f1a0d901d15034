package arrowio

import (
	"fmt"
	"path"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Directions of a metric (MetricInfo.Better).
const (
	Higher = "higher" // a higher value is better (accuracy)
	Lower  = "lower"  // a lower value is better (error, calibration error)
)

// MetricInfo declares one metric a plugin or stage kind reports: the metric catalogue's entry.
type MetricInfo struct {
	Name     string  `json:"metric"`             // the metric column's value; a trailing * matches any suffix (top*)
	Unit     string  `json:"unit"`               // fraction, count, cycles/image, octaves, nats, pixels, …
	Min      float64 `json:"min"`                // the range's lower end (Min == Max: none declared)
	Max      float64 `json:"max"`                // the range's upper end
	Better   string  `json:"better,omitempty"`   // Higher, Lower or "" where neither is better (a bias)
	Meaning  string  `json:"meaning"`            // one line
	Headline bool    `json:"headline,omitempty"` // a column of the leaderboard (`vistudy summary`)
	Label    string  `json:"label,omitempty"`    // the leaderboard's short header ("top-1"); "" for the name
	// Diagnostic marks a number about the computation rather than the model (a count, a fit
	// parameter): the report shows it folded away under the analysis table.
	Diagnostic bool `json:"diagnostic,omitempty"`
}

// Matches reports whether the entry declares metric (exactly, or by its trailing-* prefix).
func (m MetricInfo) Matches(metric string) bool {
	if ok, _ := path.Match(m.Name, metric); ok {
		return true
	}
	return m.Name == metric
}

// HasRange reports whether a range is declared.
func (m MetricInfo) HasRange() bool { return m.Min != m.Max }

// Lookup returns the first entry of infos that declares metric.
func Lookup(infos []MetricInfo, metric string) (MetricInfo, bool) {
	for _, m := range infos {
		if m.Matches(metric) {
			return m, true
		}
	}
	return MetricInfo{}, false
}

// CatalogEntry is one row of metrics.parquet: a (stage, metric) of the results and what it means.
type CatalogEntry struct {
	Stage  string `json:"stage"`
	Source string `json:"source"` // the plugin or stage kind that declared it ("" when none did)
	MetricInfo
	Metric string `json:"-"` // the metric as reported (MetricInfo.Name may be a pattern)
}

// MetricsSchema is the schema of metrics.parquet, the metric catalogue of a run.
var MetricsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "stage", Type: arrow.BinaryTypes.String},
	{Name: "metric", Type: arrow.BinaryTypes.String},
	{Name: "unit", Type: arrow.BinaryTypes.String},
	{Name: "min", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "max", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "higher_is_better", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "headline", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "diagnostic", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "label", Type: arrow.BinaryTypes.String},
	{Name: "meaning", Type: arrow.BinaryTypes.String},
	{Name: "source", Type: arrow.BinaryTypes.String},
}, nil)

// WriteMetrics writes the catalogue to path, in the order given (the study's stage order).
func WriteMetrics(p string, entries []CatalogEntry, mem memory.Allocator) error {
	b := array.NewRecordBuilder(mem, MetricsSchema)
	defer b.Release()
	for _, e := range entries {
		b.Field(0).(*array.StringBuilder).Append(e.Stage)
		b.Field(1).(*array.StringBuilder).Append(e.Metric)
		b.Field(2).(*array.StringBuilder).Append(e.Unit)
		if e.HasRange() {
			b.Field(3).(*array.Float64Builder).Append(e.Min)
			b.Field(4).(*array.Float64Builder).Append(e.Max)
		} else {
			b.Field(3).AppendNull()
			b.Field(4).AppendNull()
		}
		switch e.Better {
		case Higher:
			b.Field(5).(*array.BooleanBuilder).Append(true)
		case Lower:
			b.Field(5).(*array.BooleanBuilder).Append(false)
		default:
			b.Field(5).AppendNull()
		}
		b.Field(6).(*array.BooleanBuilder).Append(e.Headline)
		b.Field(7).(*array.BooleanBuilder).Append(e.Diagnostic)
		b.Field(8).(*array.StringBuilder).Append(e.Label)
		b.Field(9).(*array.StringBuilder).Append(e.Meaning)
		b.Field(10).(*array.StringBuilder).Append(e.Source)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return WriteParquet(p, MetricsSchema, []arrow.RecordBatch{rec}, mem)
}

// ReadMetrics reads metrics.parquet.
func ReadMetrics(p string, mem memory.Allocator) ([]CatalogEntry, error) {
	rec, err := ReadParquet(p, mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	if !sameFields(rec.Schema(), MetricsSchema) {
		return nil, fmt.Errorf("arrowio: %s is not a metric catalogue: schema %s", p, rec.Schema())
	}
	str := func(c, i int) string { return rec.Column(c).(*array.String).Value(i) }
	out := make([]CatalogEntry, rec.NumRows())
	for i := range out {
		e := CatalogEntry{Stage: str(0, i), Metric: str(1, i), Source: str(10, i)}
		e.Name, e.Unit, e.Label, e.Meaning = e.Metric, str(2, i), str(8, i), str(9, i)
		e.Diagnostic = rec.Column(7).(*array.Boolean).Value(i)
		if mn := rec.Column(3).(*array.Float64); !mn.IsNull(i) {
			e.Min, e.Max = mn.Value(i), rec.Column(4).(*array.Float64).Value(i)
		}
		if hb := rec.Column(5).(*array.Boolean); !hb.IsNull(i) {
			e.Better = Lower
			if hb.Value(i) {
				e.Better = Higher
			}
		}
		e.Headline = rec.Column(6).(*array.Boolean).Value(i)
		out[i] = e
	}
	return out, nil
}
