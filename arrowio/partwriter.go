package arrowio

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// PartWriter streams batches into one Parquet part file, made visible only by Commit.
type PartWriter struct {
	path string
	drop []string // columns the hive partition path already holds
	mem  memory.Allocator
	tmp  *os.File
	w    *pqarrow.FileWriter
	rows int64
}

// NewPartWriter prepares a part file at path; drop names columns left out of the file.
func NewPartWriter(path string, mem memory.Allocator, drop ...string) *PartWriter {
	return &PartWriter{path: path, drop: drop, mem: mem}
}

// Rows is the number of rows written so far.
func (p *PartWriter) Rows() int64 { return p.rows }

// Write appends a batch (the caller keeps ownership).
func (p *PartWriter) Write(rec arrow.RecordBatch) error {
	d := DropColumns(rec, p.drop...)
	r := parquetView(d)
	d.Release()
	defer r.Release()
	if p.w == nil {
		if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
			return fmt.Errorf("arrowio: write %s: %w", p.path, err)
		}
		f, err := CreateTemp(filepath.Dir(p.path), ".tmp-"+filepath.Base(p.path)+"-*")
		if err != nil {
			return fmt.Errorf("arrowio: write %s: %w", p.path, err)
		}
		props, aprops := writerProps(p.mem)
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
