package arrowio

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// EncodeIPC serialises one record batch as an Arrow IPC stream (schema + batch).
func EncodeIPC(rec arrow.RecordBatch, mem memory.Allocator) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(dataBytes(rec)) + 4096) // one allocation instead of a doubling series of copies
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("arrowio: encode IPC: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("arrowio: encode IPC: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeIPC reads the single record batch of an IPC stream; the caller releases it.
func DecodeIPC(data []byte, mem memory.Allocator) (arrow.RecordBatch, error) {
	r, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		return nil, fmt.Errorf("arrowio: decode IPC: %w", err)
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("arrowio: decode IPC: %w", err)
		}
		return nil, fmt.Errorf("arrowio: decode IPC: stream holds no record batch")
	}
	rec := r.RecordBatch()
	rec.Retain()
	return rec, nil
}

// dataBytes is the size of a batch's buffers, a lower bound of its IPC encoding.
func dataBytes(rec arrow.RecordBatch) int64 {
	var n int64
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
	}
	for _, c := range rec.Columns() {
		walk(c.Data())
	}
	return n
}

// Share readies rec to be read by several goroutines at once: arrow-go builds a dictionary
// array's dictionary lazily on first access (a write), so two readers encoding the same batch
// race unless it was built first.
func Share(rec arrow.RecordBatch) {
	for _, col := range rec.Columns() {
		if d, ok := col.(*array.Dictionary); ok {
			d.Dictionary()
		}
	}
}
