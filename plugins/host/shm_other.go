//go:build !linux

package host

import "os"

// sharedMem is Linux's memory file for batches; elsewhere batches go over the socket.
type sharedMem struct{ f *os.File }

func newSharedMem() (*sharedMem, error)          { return nil, nil }
func (m *sharedMem) tryAcquire() bool            { return false }
func (m *sharedMem) release()                    {}
func (m *sharedMem) reserve(int) ([]byte, error) { return nil, nil }
func (m *sharedMem) size() int64                 { return 0 }
func (m *sharedMem) close()                      {}
