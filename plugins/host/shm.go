package host

import "os"

// sharedFiles is how many memory files a runtime process is given at launch: as many image
// batches (of one stage's concurrent calls, or of several stages sharing the model) go through
// shared memory at once; a call that finds all busy sends its batch over the socket. A file
// holds no memory until a batch is written to it.
const sharedFiles = 4

// sharedPool is a runtime process's memory files for image batches.
type sharedPool struct{ files []*sharedMem }

// newSharedPool creates n empty memory files (nil where the platform has none).
func newSharedPool(n int) (*sharedPool, error) {
	p := &sharedPool{}
	for range n {
		m, err := newSharedMem()
		if err != nil || m == nil {
			p.close()
			return nil, err
		}
		p.files = append(p.files, m)
	}
	return p, nil
}

// acquire takes a free file for one batch and returns it with its index, or nil when every
// file is busy (or the pool is closed or absent).
func (p *sharedPool) acquire() (*sharedMem, int) {
	if p == nil {
		return nil, 0
	}
	for i, m := range p.files {
		if m.tryAcquire() {
			return m, i
		}
	}
	return nil, 0
}

// osFiles are the files to pass to the child, in index order.
func (p *sharedPool) osFiles() []*os.File {
	var fs []*os.File
	for _, m := range p.files {
		fs = append(fs, m.f)
	}
	return fs
}

// close closes every file (a file holding a batch is closed when its call ends).
func (p *sharedPool) close() {
	if p == nil {
		return
	}
	for _, m := range p.files {
		m.close()
	}
}
