package pipeline

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/vistudy/vistudy/plugins/host"
)

// batchesInFlight is how many image batches of one geometry a run holds at once, at least: the
// decoded batch, one in each of a couple of stream buffers, and one in a plugin call.
const batchesInFlight = 4

// memAvailable is the memory the kernel says can be had without swapping (0 when unknown).
func memAvailable() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// checkBatchMemory estimates the memory the batches of each model's geometry need before anything
// is allocated: a typo like batch_size: 100000 is a clear problem, not Go's fatal out-of-memory.
func (v *validator) checkBatchMemory() {
	avail := memAvailable()
	if avail == 0 {
		return
	}
	bs := uint64(max(v.s.Execution.BatchSize, 1))
	for _, m := range v.s.Models {
		h, w := uint64(max(m.Input.Height, 0)), uint64(max(m.Input.Width, 0))
		batch := bs * 3 * h * w * 4
		if need := batch * batchesInFlight; need > avail {
			v.add(orPos(v.s.Execution.pos["batch_size"], v.s.KeyPos(keyExecution)),
				"execution.batch_size %d: a batch of %d images of 3×%d×%d float32 for model %q is %s, and a run holds at least %d at once (%s), more than the %s this machine has available: lower execution.batch_size",
				bs, bs, h, w, m.Name, gib(batch), batchesInFlight, gib(need), gib(avail))
			return
		}
	}
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// recycler is the allocator of a wave's batches: the buffer of a batch's pixels, freed back when
// every consumer released the batch, serves a later batch of any stage and unit instead of
// becoming garbage (a fresh 19 MB buffer per 32-image batch costs zeroing, page faults and
// garbage collections, and the peak memory they leave grows with the dataset; bench/README.md).
// It keeps at most as many buffers as the wave has image batches in flight, so it holds no more
// than the wave's peak. Underneath, large buffers come from the shared arena when there is one
// (runtime plugins read them there without a copy).
type recycler struct {
	memory.Allocator             // a host.ArenaAllocator
	arena            *host.Arena // its arena (nil: none)

	mu     sync.Mutex
	free   map[int][][]byte // freed large buffers by size, exactly as they were made
	kept   int
	keep   int  // most buffers kept at once
	closed bool // the run ended: frees pass through
}

// newRecycler recycles over mem and arena (may be nil), keeping up to keep buffers.
func newRecycler(mem memory.Allocator, arena *host.Arena, keep int) *recycler {
	return &recycler{Allocator: host.ArenaAllocator{Allocator: mem, Arena: arena}, arena: arena, free: map[int][][]byte{}, keep: keep}
}

// Allocate returns a kept buffer of the size, else a new one.
func (r *recycler) Allocate(size int) []byte {
	if size >= host.ArenaMin {
		r.mu.Lock()
		if bs := r.free[size]; len(bs) > 0 {
			b := bs[len(bs)-1]
			r.free[size] = bs[:len(bs)-1]
			r.kept--
			r.mu.Unlock()
			return b
		}
		r.mu.Unlock()
	}
	return r.Allocator.Allocate(size)
}

// Free keeps a large buffer for a later batch of its size (while the run lasts), else frees it.
func (r *recycler) Free(b []byte) {
	if r.arena.Owns(b) {
		b = b[:cap(b)] // a trimmed batch's arena buffer is kept, and freed, whole
	}
	if len(b) >= host.ArenaMin {
		r.mu.Lock()
		if !r.closed && r.kept < r.keep {
			r.free[len(b)] = append(r.free[len(b)], b)
			r.kept++
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
	}
	r.Allocator.Free(b)
}

// close frees the kept buffers; batches still in flight free theirs when released.
func (r *recycler) close() {
	r.mu.Lock()
	free := r.free
	r.free, r.kept, r.closed = nil, 0, true
	r.mu.Unlock()
	for _, bs := range free {
		for _, b := range bs {
			r.Allocator.Free(b)
		}
	}
}
