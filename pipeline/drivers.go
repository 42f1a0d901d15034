package pipeline

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/errgroup"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
)

// commitWithTable renames the unit's part file into place (when *pw wrote one), names it in
// the record and commits the record; *pw is cleared.
func (ex *executor) commitWithTable(in *Instance, rec *UnitRecord, pw **pqfile.PartWriter) error {
	if *pw != nil {
		path, err := (*pw).Commit()
		*pw = nil
		if err != nil {
			return err
		}
		if path != "" {
			rec.Tables = append(rec.Tables, ex.rd.rel(path))
		}
	}
	return ex.commit(in, rec)
}

func (ex *executor) commit(in *Instance, rec *UnitRecord) error {
	rec.Shard = ex.opts.Shard.String()
	if err := ex.rd.Commit(in, rec); err != nil {
		return err
	}
	ex.track.commit()
	if ex.opts.AfterCommit != nil {
		ex.opts.AfterCommit(in, rec.Unit)
	}
	return nil
}

// runSource emits the needed units of a source instance, committing those it owns with the
// inputs it skipped.
func (ex *executor) runSource(ctx context.Context, in *Instance, src Sourcer) error {
	bar := ex.track.counter(in)
	for _, k := range sortedUnits(ex.needed[in]) {
		start := time.Now()
		var (
			mu   sync.Mutex
			errs []arrowio.ErrorRow
			bi   int
			rows int64
			pw   *pqfile.PartWriter
		)
		save := ex.own[in][k] && saves(in)
		err := src.RunUnit(ctx, k, func(rec arrow.RecordBatch) error {
			rows += rec.NumRows()
			bar.add(int(rec.NumRows()))
			if save {
				if pw == nil {
					pw = ex.rd.PartWriter(in, unitName(k), ex.opts.Mem)
				}
				if err := pw.Write(rec); err != nil {
					rec.Release()
					return err
				}
			}
			m := msg{unit: k, batch: bi, rec: rec}
			bi++
			return ex.send(ctx, in, m)
		}, func(e arrowio.ErrorRow) {
			mu.Lock()
			errs = append(errs, e)
			mu.Unlock()
			bar.add(1)
		})
		if err != nil {
			if pw != nil {
				pw.Abort()
			}
			return err
		}
		if ex.own[in][k] {
			if err := ex.commitWithTable(in, &UnitRecord{Unit: unitName(k), Errors: errs, NumRows: rows, Seconds: time.Since(start).Seconds()}, &pw); err != nil {
				return err
			}
			ex.track.skip(len(errs))
		}
		if err := ex.send(ctx, in, msg{unit: k, end: true}); err != nil {
			return err
		}
	}
	return nil
}

// runTransform applies a transform to every needed batch of its input and passes the results
// on; image batches hold a slot until every consumer is done with them. Applying runs ahead of
// writing and sending, on up to Concurrency() batches at once for a Concurrent transformer: the
// plugin calls of the next batches overlap each other and the Parquet write and hand-off of the
// last (bench/README.md).
func (ex *executor) runTransform(ctx context.Context, in *Instance, tr Transformer) error {
	bar := ex.track.counter(in)
	bounded := specOf(in.Stage).Produces == Images
	seed := StageSeed(ex.plan.Study.Seed, in) // plugins mix it with sample ids (sdk.RowSeeds)
	streams := 1
	if c, ok := tr.(Concurrent); ok {
		streams = max(1, c.Concurrency())
	}
	// The reader starts an Apply per batch, at most streams at once (running), and queues its
	// result, in stream order, for the collector; the next batch is read while earlier ones are
	// applied or written. Every queued result is written exactly once.
	type result struct {
		m    msg
		skip bool
		err  error
	}
	queue := make(chan chan result, streams+1)
	running := make(chan struct{}, streams)
	var appliers sync.WaitGroup
	applied := make(chan msg, 1)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(queue)
		for {
			var m msg
			select {
			case next, ok := <-ex.inbox[in]:
				if !ok {
					return nil
				}
				m = next
			case <-gctx.Done():
				return gctx.Err()
			}
			drop := func() {
				if m.rec != nil {
					m.rec.Release()
				}
				m.slot.done()
			}
			res := make(chan result, 1)
			select {
			case queue <- res:
			case <-gctx.Done():
				drop()
				return gctx.Err()
			}
			switch {
			case m.end:
				res <- result{m: m}
				continue
			case !ex.needed[in][m.unit]:
				drop()
				res <- result{skip: true}
				continue
			}
			var sl *slot
			if bounded {
				var err error
				if sl, err = ex.acquire(gctx); err != nil {
					drop()
					res <- result{err: err}
					return err
				}
			}
			select {
			case running <- struct{}{}:
			case <-gctx.Done():
				drop()
				sl.release()
				res <- result{err: gctx.Err()}
				return gctx.Err()
			}
			appliers.Add(1)
			go func() {
				defer appliers.Done()
				defer func() { <-running }()
				out, err := tr.Apply(gctx, m.rec, seed)
				n := m.rec.NumRows()
				drop()
				if err != nil {
					sl.release()
					res <- result{err: err}
					return
				}
				bar.add(int(n))
				res <- result{m: msg{unit: m.unit, batch: m.batch, rec: out, slot: sl}}
			}()
		}
	})
	g.Go(func() error {
		defer close(applied)
		for res := range queue {
			r := <-res
			switch {
			case r.err != nil:
				return r.err
			case r.skip:
				continue
			}
			select {
			case applied <- r.m:
			case <-gctx.Done():
				if r.m.rec != nil {
					r.m.rec.Release()
				}
				r.m.slot.release()
				return gctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error {
		err := ex.emitTransformed(gctx, in, applied)
		if err != nil {
			for m := range applied { // the collector stops at the cancellation; free what it sent
				if m.rec != nil {
					m.rec.Release()
				}
				m.slot.release()
			}
		}
		return err
	})
	err := g.Wait()
	appliers.Wait()
	for res := range queue { // results nobody collected after a failure
		if r := <-res; r.m.rec != nil {
			r.m.rec.Release()
			r.m.slot.release()
		}
	}
	return err
}

func (ex *executor) emitTransformed(ctx context.Context, in *Instance, applied <-chan msg) error {
	var (
		pw    *pqfile.PartWriter
		start time.Time
		rows  int64
	)
	defer func() {
		if pw != nil {
			pw.Abort()
		}
	}()
	for m := range applied {
		if m.end {
			if ex.own[in][m.unit] {
				rec := &UnitRecord{Unit: unitName(m.unit), NumRows: rows, Seconds: time.Since(start).Seconds()}
				if err := ex.commitWithTable(in, rec, &pw); err != nil {
					return err
				}
			}
			rows, start = 0, time.Time{}
			if err := ex.send(ctx, in, m); err != nil {
				return err
			}
			continue
		}
		if start.IsZero() {
			start = time.Now()
		}
		rows += m.rec.NumRows()
		if ex.own[in][m.unit] && saves(in) {
			if pw == nil {
				pw = ex.rd.PartWriter(in, unitName(m.unit), ex.opts.Mem)
			}
			if err := pw.Write(m.rec); err != nil {
				m.rec.Release()
				m.slot.release()
				return err
			}
		}
		if err := ex.send(ctx, in, m); err != nil {
			return err
		}
	}
	return nil
}

// runSink folds each owned unit's batches into a state and commits it (with the per-sample
// rows the folder returns, as the unit's table).
func (ex *executor) runSink(ctx context.Context, in *Instance, f Folder) error {
	var (
		state   []byte
		started bool
		pw      *pqfile.PartWriter
		start   time.Time
		rows    int64
	)
	defer func() {
		if pw != nil {
			pw.Abort()
		}
	}()
	for m := range ex.inbox[in] {
		if !ex.own[in][m.unit] {
			if m.rec != nil {
				m.rec.Release()
			}
			m.slot.done()
			continue
		}
		if !started {
			var err error
			if state, err = f.Init(ctx); err != nil {
				if m.rec != nil {
					m.rec.Release()
				}
				return err
			}
			started, start, rows = true, time.Now(), 0
		}
		if m.end {
			rec := &UnitRecord{Unit: unitName(m.unit), State: state, NumRows: rows, Seconds: time.Since(start).Seconds()}
			if err := ex.commitWithTable(in, rec, &pw); err != nil {
				return err
			}
			started = false
			continue
		}
		newState, samples, err := f.Accumulate(ctx, state, m.rec)
		rows += m.rec.NumRows()
		m.rec.Release()
		m.slot.done() // a transform's image batch: its slot is free once every consumer is done
		if err != nil {
			return err
		}
		state = newState
		if samples != nil && !saves(in) {
			samples.Release()
		} else if samples != nil {
			if pw == nil {
				pw = ex.rd.PartWriter(in, unitName(m.unit), ex.opts.Mem)
			}
			err := pw.Write(samples)
			samples.Release()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// runModel feeds a model-level instance its input (when it has one), then runs and commits
// each of its pending units.
func (ex *executor) runModel(ctx context.Context, in *Instance, r ModelRunner) error {
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	if in.Input != nil {
		var err error
		for m := range ex.inbox[in] {
			if m.rec != nil {
				if err == nil {
					err = r.Consume(ctx, m.rec)
				}
				m.rec.Release()
				m.slot.done()
			}
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	for _, unit := range ex.pendingUnits[in] {
		out := &UnitOut{new: func() *pqfile.PartWriter {
			if !saves(in) {
				return pqfile.NewPartWriter("", ex.opts.Mem) // save: false: the table is discarded
			}
			return ex.rd.PartWriter(in, unit, ex.opts.Mem)
		}}
		rec, err := r.RunUnit(ctx, unit, out)
		if err != nil {
			if out.pw != nil {
				out.pw.Abort()
			}
			return err
		}
		rec.Unit = unit
		if err := ex.commitWithTable(in, rec, &out.pw); err != nil {
			return err
		}
		ex.track.counter(in).add(1)
	}
	return nil
}
