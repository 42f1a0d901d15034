package pqfile

import (
	"github.com/vistudy/vistudy/arrowio"

	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// PartWriter streams batches into one Parquet part file, made visible only by Commit.
type PartWriter struct {
	path  string
	drop  []string      // columns left out of the file
	Const []ConstColumn // columns of one value added to every batch that lacks them
	mem   memory.Allocator
	tmp   *os.File
	w     *pqarrow.FileWriter
	rows  int64
}

// NewPartWriter prepares a part file at path; drop names columns left out of the file. A writer
// without a path discards what it is given.
func NewPartWriter(path string, mem memory.Allocator, drop ...string) *PartWriter {
	return &PartWriter{path: path, drop: drop, mem: mem}
}

// Rows is the number of rows written so far.
func (p *PartWriter) Rows() int64 { return p.rows }

// ConstColumn is a column holding one value in every row: a string (dictionary-encoded), float64,
// int64 or bool.
type ConstColumn struct {
	Name  string
	Value any
}

// array returns the column for n rows.
func (c ConstColumn) array(mem memory.Allocator, n int) (arrow.Field, arrow.Array, error) {
	switch v := c.Value.(type) {
	case string:
		b := array.NewDictionaryBuilder(mem, arrowio.ModelType).(*array.BinaryDictionaryBuilder)
		defer b.Release()
		for range n {
			if err := b.AppendString(v); err != nil {
				return arrow.Field{}, nil, err
			}
		}
		return arrow.Field{Name: c.Name, Type: arrowio.ModelType}, b.NewArray(), nil
	case float64:
		return arrow.Field{Name: c.Name, Type: arrow.PrimitiveTypes.Float64}, repeat(array.NewFloat64Builder(mem), v, n), nil
	case int64:
		return arrow.Field{Name: c.Name, Type: arrow.PrimitiveTypes.Int64}, repeat(array.NewInt64Builder(mem), v, n), nil
	case bool:
		return arrow.Field{Name: c.Name, Type: arrow.FixedWidthTypes.Boolean}, repeat(array.NewBooleanBuilder(mem), v, n), nil
	}
	return arrow.Field{}, nil, fmt.Errorf("arrowio: column %s: a constant of type %T", c.Name, c.Value)
}

// repeat builds an array of n copies of v with b (released).
func repeat[T any, B interface {
	Append(T)
	NewArray() arrow.Array
	Release()
}](b B, v T, n int) arrow.Array {
	defer b.Release()
	for range n {
		b.Append(v)
	}
	return b.NewArray()
}

// withConst returns rec with the constant columns it lacks appended (the caller releases both).
func (p *PartWriter) withConst(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	rec.Retain()
	for _, c := range p.Const {
		if _, ok := arrowio.Field(rec.Schema(), c.Name); ok {
			continue
		}
		f, arr, err := c.array(p.mem, int(rec.NumRows()))
		if err != nil {
			rec.Release()
			return nil, err
		}
		next, err := arrowio.SetColumn(rec, f, arr)
		arr.Release()
		rec.Release()
		if err != nil {
			return nil, err
		}
		rec = next
	}
	return rec, nil
}

// Write appends a batch (the caller keeps ownership).
func (p *PartWriter) Write(rec arrow.RecordBatch) error {
	if p.path == "" {
		p.rows += rec.NumRows()
		return nil
	}
	d := arrowio.DropColumns(rec, p.drop...)
	c, err := p.withConst(d)
	d.Release()
	if err != nil {
		return fmt.Errorf("arrowio: write %s: %w", p.path, err)
	}
	r := parquetView(c)
	c.Release()
	defer r.Release()
	if p.w == nil {
		if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
			return fmt.Errorf("arrowio: write %s: %w", p.path, err)
		}
		f, err := arrowio.CreateTemp(filepath.Dir(p.path), ".tmp-"+filepath.Base(p.path)+"-*")
		if err != nil {
			return fmt.Errorf("arrowio: write %s: %w", p.path, err)
		}
		props, aprops := writerProps(p.mem, r.Schema())
		w, err := pqarrow.NewFileWriter(r.Schema(), f, props, aprops)
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			return fmt.Errorf("arrowio: write %s: %w", p.path, err)
		}
		p.tmp, p.w = f, w
	}
	if err := p.w.WriteBuffered(r); err != nil {
		return fmt.Errorf("arrowio: write %s: %w", p.path, err)
	}
	p.rows += r.NumRows()
	return nil
}

// Commit closes the file and renames it into place; it returns "" when nothing was written.
func (p *PartWriter) Commit() (string, error) {
	if p.w == nil {
		return "", nil
	}
	name := p.tmp.Name()
	err := p.w.Close()
	p.w = nil
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("arrowio: write %s: %w", p.path, err)
	}
	if err := os.Rename(name, p.path); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("arrowio: write %s: %w", p.path, err)
	}
	return p.path, nil
}

// Abort discards what was written.
func (p *PartWriter) Abort() {
	if p.w == nil {
		return
	}
	name := p.tmp.Name()
	p.w.Close()
	p.w = nil
	os.Remove(name)
}
