package arrowio

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// SetColumn returns a new batch with column f.Name replaced by arr (or appended when absent).
// The new batch retains what it uses; the caller still releases rec and arr.
func SetColumn(rec arrow.RecordBatch, f arrow.Field, arr arrow.Array) (arrow.RecordBatch, error) {
	if int64(arr.Len()) != rec.NumRows() {
		return nil, fmt.Errorf("arrowio: column %q has %d rows, batch has %d", f.Name, arr.Len(), rec.NumRows())
	}
	fields := append([]arrow.Field(nil), rec.Schema().Fields()...)
	cols := append([]arrow.Array(nil), rec.Columns()...)
	if idx := rec.Schema().FieldIndices(f.Name); len(idx) > 0 {
		fields[idx[0]], cols[idx[0]] = f, arr
	} else {
		fields, cols = append(fields, f), append(cols, arr)
	}
	md := rec.Schema().Metadata()
	return array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, rec.NumRows()), nil
}

// DropColumns returns a new batch without the named columns (those absent are ignored).
func DropColumns(rec arrow.RecordBatch, names ...string) arrow.RecordBatch {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range rec.Schema().Fields() {
		if !drop[f.Name] {
			fields, cols = append(fields, f), append(cols, rec.Column(i))
		}
	}
	md := rec.Schema().Metadata()
	return array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, rec.NumRows())
}

// SetImages returns rec with the image column replaced by data of the same shape.
func SetImages(rec arrow.RecordBatch, data []float32, mem memory.Allocator) (arrow.RecordBatch, error) {
	old, err := TensorColumn(rec, ColImage)
	if err != nil {
		return nil, err
	}
	arr, err := NewTensorArray(mem, old.Shape(), data)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	f, _ := Field(rec.Schema(), ColImage)
	return SetColumn(rec, f, arr)
}

// Int32Column returns column name as int32 values, or an error naming what was found.
func Int32Column(rec arrow.RecordBatch, name string) ([]int32, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("arrowio: batch has no column %q (columns: %s)", name, columnNames(rec.Schema()))
	}
	a, ok := rec.Column(idx[0]).(*array.Int32)
	if !ok {
		return nil, fmt.Errorf("arrowio: column %q is %s, want int32", name, rec.Column(idx[0]).DataType())
	}
	return a.Int32Values(), nil
}

// StringColumn returns column name as strings (plain or dictionary-encoded).
func StringColumn(rec arrow.RecordBatch, name string) ([]string, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("arrowio: batch has no column %q (columns: %s)", name, columnNames(rec.Schema()))
	}
	col := rec.Column(idx[0])
	out := make([]string, col.Len())
	switch a := col.(type) {
	case *array.String:
		for i := range out {
			out[i] = a.Value(i)
		}
	case *array.Dictionary:
		dict, ok := a.Dictionary().(*array.String)
		if !ok {
			return nil, fmt.Errorf("arrowio: column %q is %s, want strings", name, col.DataType())
		}
		for i := range out {
			out[i] = dict.Value(a.GetValueIndex(i))
		}
	default:
		return nil, fmt.Errorf("arrowio: column %q is %s, want strings", name, col.DataType())
	}
	return out, nil
}
