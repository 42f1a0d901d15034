// Package imagemap runs a per-image transform over the image column of a batch, one goroutine
// per CPU, and returns the batch with the column replaced: the loop every pixel-space
// perturbation plugin shares.
package imagemap

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
)

// Func writes the transformed image of batch row `row` (src, [C,H,W] row-major) into dst,
// which has the same length.
type Func func(row int, dst, src []float32) error

// Shape is the checked [C,H,W] geometry of a batch's images.
type Shape struct{ C, H, W int }

// ImageShape returns the [C,H,W] shape of batch's image column.
func ImageShape(batch arrow.RecordBatch) (Shape, error) {
	images, err := arrowio.TensorColumn(batch, arrowio.ColImage)
	if err != nil {
		return Shape{}, err
	}
	return shapeOf(images)
}

func shapeOf(images *arrowio.TensorArray) (Shape, error) {
	s := images.Shape()
	if len(s) != 3 || s[0] < 1 || s[1] < 1 || s[2] < 1 {
		return Shape{}, fmt.Errorf("imagemap: column %q has shape %v, want [C,H,W]", arrowio.ColImage, s)
	}
	return Shape{C: s[0], H: s[1], W: s[2]}, nil
}

// Map returns batch with every image replaced by a worker's Func. newFunc is called once per
// worker goroutine, so each worker can own scratch space (FFT plans, buffers); the rows a worker
// gets are not predictable, so a Func must depend on its row only through the row argument.
// The caller releases the returned batch.
func Map(ctx context.Context, batch arrow.RecordBatch, mem memory.Allocator, newFunc func(Shape) (Func, error)) (arrow.RecordBatch, error) {
	images, err := arrowio.TensorColumn(batch, arrowio.ColImage)
	if err != nil {
		return nil, err
	}
	shape, err := shapeOf(images)
	if err != nil {
		return nil, err
	}
	n := images.Len()
	size := shape.C * shape.H * shape.W
	out := make([]float32, n*size)
	if err := Rows(ctx, n, func() (func(row int) error, error) {
		f, err := newFunc(shape)
		if err != nil {
			return nil, err
		}
		return func(row int) error {
			return f(row, out[row*size:(row+1)*size], images.Row(row))
		}, nil
	}); err != nil {
		return nil, err
	}
	return arrowio.SetImages(batch, out, mem)
}

// Rows calls a worker's function for each row in [0, n), spread over one goroutine per CPU.
// newWorker is called once per goroutine. The first error stops the work and is returned,
// wrapped with its row.
func Rows(ctx context.Context, n int, newWorker func() (func(row int) error, error)) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		failed  atomic.Bool
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err })
		failed.Store(true)
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := newWorker()
			if err != nil {
				fail(err)
				return
			}
			for !failed.Load() {
				row := int(next.Add(1) - 1)
				if row >= n {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				if err := f(row); err != nil {
					fail(fmt.Errorf("image %d: %w", row, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// Column is a column a plugin adds to its result.
type Column struct {
	Field arrow.Field
	Array arrow.Array
}

// AddColumns returns batch with each column set: replaced when the batch has one of that name,
// appended otherwise. It takes no ownership: the caller still releases batch and the arrays, and
// releases the result.
func AddColumns(batch arrow.RecordBatch, cols ...Column) (arrow.RecordBatch, error) {
	rec := batch
	rec.Retain()
	for _, c := range cols {
		next, err := arrowio.SetColumn(rec, c.Field, c.Array)
		rec.Release()
		if err != nil {
			return nil, err
		}
		rec = next
	}
	return rec, nil
}
