package criticality

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
)

// Images is a replayable stream of the stage's input batches (sample_id, label, image), in the
// same order on every call.
type Images interface {
	// Each calls fn with every batch in order; fn must not keep a batch beyond the call without
	// retaining it. The first error stops the stream and is returned.
	Each(ctx context.Context, fn func(rec arrow.RecordBatch) error) error
}

// spillColumns are the columns a Spill keeps: what the stage reads, nothing more on disk.
var spillColumns = []string{arrowio.ColSampleID, arrowio.ColLabel, arrowio.ColImage}

// Spill is an Images written once to an Arrow IPC file in a temporary folder and read back on
// every Each. It keeps the sample_id, label and image columns of the batches written to it.
// Write all batches, then call Each as often as needed, then Close. Not safe for concurrent use.
type Spill struct {
	mem    memory.Allocator
	file   *os.File
	writer *ipc.FileWriter // nil once finished
	schema *arrow.Schema
	rows   int64
}

// NewSpill creates the spill file in dir ("" for the system's temporary folder).
func NewSpill(dir string, mem memory.Allocator) (*Spill, error) {
	f, err := os.CreateTemp(dir, "vistudy-criticality-*.arrow")
	if err != nil {
		return nil, fmt.Errorf("criticality: create spill file: %w", err)
	}
	return &Spill{mem: mem, file: f}, nil
}

// Write appends the kept columns of rec; every batch must have the same columns.
func (s *Spill) Write(rec arrow.RecordBatch) error {
	if s.file == nil {
		return errors.New("criticality: spill: write after close")
	}
	if s.schema != nil && s.writer == nil {
		return fmt.Errorf("criticality: spill %s: write after the first read", s.file.Name())
	}
	if _, err := arrowio.TensorColumn(rec, arrowio.ColImage); err != nil {
		return fmt.Errorf("criticality: spill: %w", err)
	}
	kept := keepColumns(rec)
	defer kept.Release()
	if s.writer == nil {
		s.schema = kept.Schema()
		w, err := ipc.NewFileWriter(s.file, ipc.WithSchema(s.schema), ipc.WithAllocator(s.mem))
		if err != nil {
			return fmt.Errorf("criticality: spill %s: %w", s.file.Name(), err)
		}
		s.writer = w
	}
	if !kept.Schema().Equal(s.schema) {
		return fmt.Errorf("criticality: spill %s: batch schema %s differs from the first batch's %s", s.file.Name(), kept.Schema(), s.schema)
	}
	if err := s.writer.Write(kept); err != nil {
		return fmt.Errorf("criticality: spill %s: %w", s.file.Name(), err)
	}
	s.rows += kept.NumRows()
	return nil
}

// keepColumns projects rec onto spillColumns (those present).
func keepColumns(rec arrow.RecordBatch) arrow.RecordBatch {
	var fields []arrow.Field
	var cols []arrow.Array
	for _, name := range spillColumns {
		if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
			fields = append(fields, rec.Schema().Field(idx[0]))
			cols = append(cols, rec.Column(idx[0]))
		}
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
}

// Rows is the number of samples written.
func (s *Spill) Rows() int64 { return s.rows }

// finish closes the writer, completing the file's footer.
func (s *Spill) finish() error {
	if s.writer == nil {
		return nil
	}
	err := s.writer.Close()
	s.writer = nil
	if err != nil {
		return fmt.Errorf("criticality: spill %s: finish: %w", s.file.Name(), err)
	}
	return nil
}

// Each finishes the file on its first call, then reads the batches back in order.
func (s *Spill) Each(ctx context.Context, fn func(rec arrow.RecordBatch) error) error {
	if s.file == nil {
		return errors.New("criticality: spill: read after close")
	}
	if s.schema == nil {
		return nil // nothing was written
	}
	if err := s.finish(); err != nil {
		return err
	}
	r, err := ipc.NewFileReader(s.file, ipc.WithAllocator(s.mem), ipc.WithSchema(s.schema))
	if err != nil {
		return fmt.Errorf("criticality: spill %s: open: %w", s.file.Name(), err)
	}
	defer r.Close()
	for i := 0; i < r.NumRecords(); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.RecordBatchAt(i)
		if err != nil {
			return fmt.Errorf("criticality: spill %s: batch %d: %w", s.file.Name(), i, err)
		}
		err = fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// Close removes the spill file.
func (s *Spill) Close() error {
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	err := errors.Join(s.finish(), s.file.Close(), os.Remove(name))
	s.file = nil
	if err != nil {
		return fmt.Errorf("criticality: close spill %s: %w", name, err)
	}
	return nil
}
