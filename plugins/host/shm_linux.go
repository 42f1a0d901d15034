//go:build linux

package host

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// sharedMem is a memory file the host maps and hands a runtime plugin at launch: image batches
// go through it instead of the socket, one copy on the host's side and none on the plugin's
// (bench/README.md: the hop of a 32-image batch, shared memory against Arrow IPC over gRPC).
type sharedMem struct {
	mu     sync.Mutex
	busy   bool // one batch at a time; a call that finds it busy sends its batch over the socket
	closed bool // close came while a batch was in it: release frees the file
	f      *os.File
	buf    []byte // the mapping, len(buf) == the file's size
}

// newSharedMem creates the empty memory file.
func newSharedMem() (*sharedMem, error) {
	fd, err := unix.MemfdCreate("vistudy-batches", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("plugins: shared memory for batches: %w", err)
	}
	return &sharedMem{f: os.NewFile(uintptr(fd), "memfd:vistudy-batches")}, nil
}

// tryAcquire takes the file for one batch, or reports that another call holds it (or that it
// is closed).
func (m *sharedMem) tryAcquire() bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy || m.closed {
		return false
	}
	m.busy = true
	return true
}

// release ends the batch tryAcquire began.
func (m *sharedMem) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.busy = false
	if m.closed {
		m.free()
	}
}

// reserve returns the first n bytes of the mapping, growing the file (by half again, so that a
// few sizes settle quickly) when it is smaller. The caller holds the file.
func (m *sharedMem) reserve(n int) ([]byte, error) {
	if n <= len(m.buf) {
		return m.buf[:n], nil
	}
	size := max(n, len(m.buf)+len(m.buf)/2)
	if err := m.f.Truncate(int64(size)); err != nil {
		return nil, fmt.Errorf("plugins: grow shared memory to %d bytes: %w", size, err)
	}
	buf, err := syscall.Mmap(int(m.f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("plugins: map shared memory of %d bytes: %w", size, err)
	}
	m.unmap()
	m.buf = buf
	return m.buf[:n], nil
}

// size is the file's size now.
func (m *sharedMem) size() int64 { return int64(len(m.buf)) }

func (m *sharedMem) unmap() {
	if m.buf != nil {
		_ = syscall.Munmap(m.buf)
		m.buf = nil
	}
}

// close unmaps and closes the file, or has the batch in flight do it when it ends; the plugin's
// mapping keeps the pages until the plugin exits.
func (m *sharedMem) close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	if !m.busy {
		m.free()
	}
}

func (m *sharedMem) free() {
	m.unmap()
	m.f.Close()
}
