package pqfile

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/vistudy/vistudy/arrowio"
)

// WriteMetrics writes the catalogue to path, in the order given (the study's stage order).
func WriteMetrics(p string, entries []arrowio.CatalogEntry, mem memory.Allocator) error {
	b := array.NewRecordBuilder(mem, arrowio.MetricsSchema)
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
		case arrowio.Higher:
			b.Field(5).(*array.BooleanBuilder).Append(true)
		case arrowio.Lower:
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
	return WriteParquet(p, arrowio.MetricsSchema, []arrow.RecordBatch{rec}, mem)
}

// ReadMetrics reads metrics.parquet.
func ReadMetrics(p string, mem memory.Allocator) ([]arrowio.CatalogEntry, error) {
	rec, err := ReadParquet(p, mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	if !sameFields(rec.Schema(), arrowio.MetricsSchema) {
		return nil, fmt.Errorf("arrowio: %s is not a metric catalogue: schema %s", p, rec.Schema())
	}
	str := func(c, i int) string { return rec.Column(c).(*array.String).Value(i) }
	out := make([]arrowio.CatalogEntry, rec.NumRows())
	for i := range out {
		e := arrowio.CatalogEntry{Stage: str(0, i), Metric: str(1, i), Source: str(10, i)}
		e.Name, e.Unit, e.Label, e.Meaning = e.Metric, str(2, i), str(8, i), str(9, i)
		e.Diagnostic = rec.Column(7).(*array.Boolean).Value(i)
		if mn := rec.Column(3).(*array.Float64); !mn.IsNull(i) {
			e.Min, e.Max = mn.Value(i), rec.Column(4).(*array.Float64).Value(i)
		}
		if hb := rec.Column(5).(*array.Boolean); !hb.IsNull(i) {
			e.Better = arrowio.Lower
			if hb.Value(i) {
				e.Better = arrowio.Higher
			}
		}
		e.Headline = rec.Column(6).(*array.Boolean).Value(i)
		out[i] = e
	}
	return out, nil
}
