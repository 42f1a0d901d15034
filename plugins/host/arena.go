package host

import "github.com/apache/arrow-go/v18/arrow/memory"

// ArenaMin is the size from which ArenaAllocator places buffers in the arena: image batches, not
// the small buffers of ids and labels.
const ArenaMin = 1 << 20

// ArenaAllocator is an Arrow allocator whose buffers of ArenaMin bytes and more live in Arena
// (while it has room), so the batches made with it reach runtime plugins without a copy; the
// others, and all of them without an arena, come from the allocator it embeds.
type ArenaAllocator struct {
	memory.Allocator
	Arena *Arena
}

// Allocate returns a buffer of size bytes, in the arena when it is large.
func (m ArenaAllocator) Allocate(size int) []byte {
	if size >= ArenaMin && m.Arena != nil {
		if b := m.Arena.Allocate(size); b != nil {
			return b
		}
	}
	return m.Allocator.Allocate(size)
}

// Reallocate resizes b: an arena buffer shrinks in place and grows into a new buffer (it must
// return to the arena whole); any other is the embedded allocator's.
func (m ArenaAllocator) Reallocate(size int, b []byte) []byte {
	if !m.Arena.Owns(b) {
		return m.Allocator.Reallocate(size, b)
	}
	if size <= cap(b) {
		return b[:size]
	}
	nb := m.Allocate(size)
	copy(nb, b)
	m.Free(b)
	return nb
}

// Free frees b where it was made.
func (m ArenaAllocator) Free(b []byte) {
	if !m.Arena.Free(b) {
		m.Allocator.Free(b)
	}
}
