package pipeline

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
)

// msg is one item on a stream: a batch of a unit, or the end of a unit.
type msg struct {
	unit  int
	batch int
	rec   arrow.RecordBatch
	end   bool
	slot  *slot // set on transformed image batches: freed when every consumer is done with them
}

// slot is one of the executor's image-batch slots, held from the transform until every consumer
// has processed the batch. Sweeps expand into many transform instances; without the bound, each
// would hold its own batch of images in flight.
type slot struct {
	pending atomic.Int32
	free    func()
}

// done marks one consumer finished with the batch; the last frees the slot.
func (s *slot) done() {
	if s != nil && s.pending.Add(-1) == 0 {
		s.free()
	}
}

// release frees a slot that was never sent.
func (s *slot) release() {
	if s != nil {
		s.free()
	}
}

// acquire takes an image-batch slot, waiting while all are in use.
func (ex *executor) acquire(ctx context.Context) (*slot, error) {
	select {
	case ex.slots <- struct{}{}:
		return &slot{free: func() { <-ex.slots }}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send hands m to every consumer of in (each gets its own reference) and drops the caller's.
func (ex *executor) send(ctx context.Context, in *Instance, m msg) error {
	defer func() {
		if m.rec != nil {
			m.rec.Release()
		}
	}()
	if m.rec != nil && len(ex.consumers[in]) > 1 {
		arrowio.Share(m.rec) // the consumers read it at once
	}
	if m.slot != nil {
		m.slot.pending.Store(int32(len(ex.consumers[in])) + 1)
		defer m.slot.done() // the sender's share: a batch nobody consumes frees its slot here
	}
	for _, c := range ex.consumers[in] {
		if m.rec != nil {
			m.rec.Retain()
		}
		select {
		case ex.inbox[c] <- m:
		case <-ctx.Done():
			if m.rec != nil {
				m.rec.Release()
			}
			m.slot.done()
			return ctx.Err()
		}
	}
	return nil
}

// closeOutputs ends the streams of in's consumers.
func (ex *executor) closeOutputs(in *Instance) {
	for _, c := range ex.consumers[in] {
		close(ex.inbox[c])
	}
}

// drain releases whatever is still queued after a failure or cancellation.
func (ex *executor) drain() {
	for _, ch := range ex.inbox {
		for m := range ch {
			if m.rec != nil {
				m.rec.Release()
			}
		}
	}
}

// StageSeed derives an instance's seed from the study seed (for kinds that draw per instance).
func StageSeed(study uint64, in *Instance) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s", study, in.Key())
	return h.Sum64()
}
