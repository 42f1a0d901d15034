//go:build !linux

package host

import "os"

// Arena is Linux's shared memory for image batches; elsewhere batches go over the socket.
type Arena struct{}

// SharedArena returns nil: there is no arena on this platform.
func SharedArena() *Arena { return nil }

// Allocate returns nil (no arena).
func (a *Arena) Allocate(int) []byte { return nil }

// Owns reports false (no buffer is the arena's).
func (a *Arena) Owns([]byte) bool { return false }

// Free reports false (no buffer is the arena's).
func (a *Arena) Free([]byte) bool { return false }

// InUse is 0.
func (a *Arena) InUse() int { return 0 }

func (a *Arena) offset([]byte) (int64, bool) { return 0, false }
func (a *Arena) file() *os.File              { return nil }
func (a *Arena) size() int64                 { return 0 }
