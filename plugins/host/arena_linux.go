//go:build linux

package host

import (
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vistudy/vistudy/plugins/sdk"
)

// Arena is this process's shared memory for image batches: large buffers allocated in one memory
// file that every runtime plugin maps (read-only) at launch. A batch whose pixels live in it goes
// to the runtime as an offset, with no copy at all (bench/README.md: the plugin hop); other
// buffers go through the process's per-call memory files, one copy. The file reserves address
// space only: pages exist while a buffer uses them, and a freed buffer's pages are returned.
type Arena struct {
	f *os.File

	mu    sync.Mutex
	buf   []byte        // the host's mapping of the whole reservation
	next  int           // the first offset never allocated
	free  map[int][]int // offsets of freed buffers by size, their pages returned
	inUse int           // bytes allocated and not freed
}

const (
	// arenaReserve is the arena's address space: a run holds tens of batches at most, and a
	// request beyond it falls back to ordinary memory.
	arenaReserve = 64 << 30
	arenaAlign   = 1 << 12 // buffers start on pages, so freeing one returns whole pages
)

var (
	arenaOnce sync.Once
	arena     *Arena
)

// SharedArena returns the process's arena, made on first use; nil where shared memory is off
// (VISTUDY_SHM=off) or cannot be made (then batches are copied, or go over the socket).
func SharedArena() *Arena {
	arenaOnce.Do(func() {
		if os.Getenv(sdk.EnvSharedMem) == "off" {
			return
		}
		a, err := newArena()
		if err != nil {
			logger.Warn("image batches are copied into shared memory", "error", err)
			return
		}
		arena = a
	})
	return arena
}

func newArena() (*Arena, error) {
	fd, err := unix.MemfdCreate("vistudy-arena", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "memfd:vistudy-arena")
	if err := f.Truncate(arenaReserve); err != nil {
		f.Close()
		return nil, err
	}
	buf, err := syscall.Mmap(fd, 0, arenaReserve, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Arena{f: f, buf: buf, free: map[int][]int{}}, nil
}

// Allocate returns a buffer of size bytes in the arena, or nil when its address space is spent.
func (a *Arena) Allocate(size int) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	off := -1
	if offs := a.free[size]; len(offs) > 0 {
		off = offs[len(offs)-1]
		a.free[size] = offs[:len(offs)-1]
	} else if span := (size + arenaAlign - 1) &^ (arenaAlign - 1); a.next+span <= len(a.buf) {
		off = a.next
		a.next += span
	}
	if off < 0 {
		return nil
	}
	a.inUse += size
	return a.buf[off : off+size : off+size]
}

// Owns reports whether b (up to its capacity) is a buffer of the arena (false on a nil arena).
func (a *Arena) Owns(b []byte) bool {
	_, ok := a.offset(b[:cap(b)])
	return ok
}

// Free returns a buffer Allocate gave, whole (up to its capacity, so a slice of it frees it all;
// its pages go back to the system), and reports true; it reports false for a buffer that is not
// the arena's (and on a nil arena).
func (a *Arena) Free(b []byte) bool {
	b = b[:cap(b)]
	off, ok := a.offset(b)
	if !ok {
		return false
	}
	span := (len(b) + arenaAlign - 1) &^ (arenaAlign - 1)
	_ = unix.Fallocate(int(a.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, int64(span))
	a.mu.Lock()
	defer a.mu.Unlock()
	a.free[len(b)] = append(a.free[len(b)], int(off))
	a.inUse -= len(b)
	return true
}

// InUse is how many bytes are allocated and not freed (0 on a nil arena).
func (a *Arena) InUse() int {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse
}

// offset locates b in the arena.
func (a *Arena) offset(b []byte) (int64, bool) {
	if a == nil || len(b) == 0 {
		return 0, false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(a.buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < start || p+uintptr(len(b)) > start+uintptr(len(a.buf)) {
		return 0, false
	}
	return int64(p - start), true
}

// file is the memory file runtime plugins map.
func (a *Arena) file() *os.File { return a.f }

// size is the arena file's size, as a plugin maps it.
func (a *Arena) size() int64 { return int64(len(a.buf)) }
