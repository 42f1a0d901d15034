package load

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
)

// DefaultBatchSize is the batch size of a Loader whose BatchSize is 0.
const DefaultBatchSize = 32

// Schema is the batch schema of Loader.Run: sample_id, label, label_name, [shape_label, texture_label,] image [3,H,W].
func Schema(cueConflict bool, g Geometry) *arrow.Schema {
	fields := []arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: arrowio.ColLabelName, Type: arrow.BinaryTypes.String},
	}
	if cueConflict {
		fields = append(fields,
			arrow.Field{Name: arrowio.ColShapeLabel, Type: arrow.PrimitiveTypes.Int32},
			arrow.Field{Name: arrowio.ColTextureLabel, Type: arrow.PrimitiveTypes.Int32})
	}
	fields = append(fields, arrow.Field{Name: arrowio.ColImage, Type: arrowio.NewTensorType(3, g.Height, g.Width)})
	return arrow.NewSchema(fields, nil)
}

// Loader decodes and preprocesses samples on a pool of workers into ordered record batches.
type Loader struct {
	Workers   int              // decoding goroutines; 0 = GOMAXPROCS
	BatchSize int              // rows per emitted batch (the last may be shorter); 0 = DefaultBatchSize
	Mem       memory.Allocator // allocator of the batches; nil = memory.DefaultAllocator
	Stage     string           // stage id written into error rows
	Decode    string           // decode mode of file datasets (DecodeMode): "" or DecodeExact, DecodeDraft
}

// job is one sample on its way through the pool; the worker answers on out.
type job struct {
	s   Sample
	out chan result
}

// result is a preprocessed sample, or why it failed.
type result struct {
	vals []float32
	err  error
}

// Run emits samples of ds, preprocessed to g, as ordered batches that emit releases; failures go to fail (see package doc).
func (l *Loader) Run(ctx context.Context, ds Dataset, samples []Sample, g Geometry, emit func(arrow.RecordBatch) error, fail func(arrowio.ErrorRow)) error {
	if err := g.Validate(); err != nil {
		return err
	}
	decode, err := DecodeMode(l.Decode, g)
	if err != nil {
		return err
	}
	workers, batch, mem := l.Workers, l.BatchSize, l.Mem
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	size := 3 * g.Height * g.Width
	lookahead := 2 * workers // samples queued beyond those being decoded
	buffers := newPool(lookahead+workers, func() []float32 { return make([]float32, size) })

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // runs after cancel below: no goroutine outlives Run
	defer cancel()

	// The producer queues jobs in sample order on pending; its capacity bounds the work in flight.
	jobs := make(chan job)
	pending := make(chan job, lookahead)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		defer close(pending)
		for _, s := range samples {
			j := job{s: s, out: make(chan result, 1)}
			select {
			case pending <- j:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					j.out <- result{err: ctx.Err()}
					continue
				}
				vals := buffers.get()
				err := loadSample(ds, j.s, g, decode, vals)
				if err != nil {
					buffers.put(vals)
					vals = nil
				}
				j.out <- result{vals: vals, err: err}
			}
		}()
	}

	// The collector takes results in sample order and fills the batches.
	b := newBatchBuilder(mem, Schema(ds.CueConflict(), g), ds.CueConflict(), batch, size)
	defer b.release()
	for j := range pending {
		var r result
		select {
		case r = <-j.out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if fail != nil {
				fail(arrowio.ErrorRow{SampleID: j.s.ID, Path: cmp.Or(j.s.Path, j.s.ID), Dataset: ds.Name(), Stage: l.Stage, Reason: r.err.Error()})
			}
			continue
		}
		b.append(j.s, r.vals)
		buffers.put(r.vals)
		if b.rows == batch {
			if err := emit(b.flush()); err != nil {
				return fmt.Errorf("load: emit batch: %w", err)
			}
		}
	}
	if err := ctx.Err(); err != nil { // the producer stopped early: do not pass a partial tail off as complete
		return err
	}
	if b.rows > 0 {
		if err := emit(b.flush()); err != nil {
			return fmt.Errorf("load: emit batch: %w", err)
		}
	}
	return nil
}

// pool keeps up to n values for reuse (per-sample tensors, decoding scratch), so that a run
// allocates a bounded number of them. Unlike a sync.Pool it is not emptied by each garbage
// collection: at a run's GOGC=25 those came often enough that most images allocated their
// decoding buffers afresh, and the garbage brought the next collection sooner (bench/README.md).
type pool[T any] struct {
	free  chan T
	fresh func() T
}

func newPool[T any](n int, fresh func() T) *pool[T] {
	return &pool[T]{free: make(chan T, n), fresh: fresh}
}

// get returns a kept value or a fresh one.
func (p *pool[T]) get() T {
	select {
	case v := <-p.free:
		return v
	default:
		return p.fresh()
	}
}

// put keeps v for reuse, dropping it when the pool is full.
func (p *pool[T]) put(v T) {
	select {
	case p.free <- v:
	default:
	}
}

// decodePool is the size of the decoding pools: a worker per core holds one value each.
var decodePool = 2 * runtime.GOMAXPROCS(0)

// loadSample decodes (or renders) s and preprocesses it into vals; a panicking decoder is an error.
func loadSample(ds Dataset, s Sample, g Geometry, decode DecodeOptions, vals []float32) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("load: sample %s: panic while loading: %v", s.ID, p)
		}
	}()
	if f, ok := ds.(filePreprocessor); ok {
		return f.preprocessFile(vals, s, g, decode)
	}
	img, err := ds.Image(s)
	if err != nil {
		return err
	}
	if err := preprocessInto(vals, img, g); err != nil {
		return fmt.Errorf("load: sample %s: %w", s.ID, err)
	}
	return nil
}

// batchBuilder appends samples to one reused record builder.
type batchBuilder struct {
	rb                    *array.RecordBuilder
	ids, names            *array.StringBuilder
	label, shape, texture *array.Int32Builder
	images                *array.FixedSizeListBuilder
	values                *array.Float32Builder
	capacity, size, rows  int
}

func newBatchBuilder(mem memory.Allocator, schema *arrow.Schema, cueConflict bool, capacity, size int) *batchBuilder {
	rb := array.NewRecordBuilder(mem, schema)
	b := &batchBuilder{
		rb:       rb,
		ids:      rb.Field(0).(*array.StringBuilder),
		label:    rb.Field(1).(*array.Int32Builder),
		names:    rb.Field(2).(*array.StringBuilder),
		capacity: capacity,
		size:     size,
	}
	if cueConflict {
		b.shape, b.texture = rb.Field(3).(*array.Int32Builder), rb.Field(4).(*array.Int32Builder)
	}
	b.images = rb.Field(schema.NumFields() - 1).(*array.ExtensionBuilder).StorageBuilder().(*array.FixedSizeListBuilder)
	b.values = b.images.ValueBuilder().(*array.Float32Builder)
	return b
}

// append adds one sample's row.
func (b *batchBuilder) append(s Sample, vals []float32) {
	if b.rows == 0 {
		b.values.Resize(b.capacity * b.size) // one allocation of exactly a batch (Reserve would round it up to a power of 2)
	}
	b.ids.Append(s.ID)
	b.label.Append(s.Label)
	b.names.Append(s.LabelName)
	if b.shape != nil {
		b.shape.Append(s.Shape)
		b.texture.Append(s.Texture)
	}
	b.images.Append(true)
	b.values.AppendValues(vals, nil)
	b.rows++
}

// flush returns the rows appended so far as a batch and starts a new one.
func (b *batchBuilder) flush() arrow.RecordBatch {
	b.rows = 0
	return b.rb.NewRecordBatch()
}

// release frees the builder and any rows not flushed.
func (b *batchBuilder) release() { b.rb.Release() }
