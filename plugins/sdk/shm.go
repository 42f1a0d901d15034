//go:build linux

package sdk

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	pb "github.com/vistudy/vistudy/plugins/proto"
)

// sharedViews are the plugin's mappings of the host's batch files, in the order of the
// descriptors the host passed.
type sharedViews []*sharedView

// openSharedViews returns the views of the descriptors the host passed (a comma-separated list),
// or nil when it passed none or one is not an open file.
func openSharedViews() sharedViews {
	var vs sharedViews
	for _, f := range strings.Split(os.Getenv(EnvSharedMemFD), ",") {
		fd, err := strconv.Atoi(f)
		if err != nil || fd < 3 {
			return nil
		}
		if _, err := syscall.Seek(fd, 0, 1); err != nil { // not an open file after all
			return nil
		}
		vs = append(vs, &sharedView{fd: fd})
	}
	return vs
}

// images returns the batch b locates in its file (see sharedView.images).
func (vs sharedViews) images(b *pb.SharedBatch) (*arrowio.TensorArray, func(), error) {
	if b.File < 0 || int(b.File) >= len(vs) {
		return nil, nil, fmt.Errorf("shared batch: file %d of the %d the host passed", b.File, len(vs))
	}
	return vs[b.File].images(b)
}

// sharedView is the plugin's read-only mapping of one of the host's batch files.
type sharedView struct {
	mu  sync.RWMutex // read-held by each call on the mapping: mapping again waits for them
	fd  int
	buf []byte
}

// images returns the batch b locates as a tensor array over the mapping, without copying, and
// the function that ends its use (the host writes the next batch only after the answer).
func (v *sharedView) images(b *pb.SharedBatch) (*arrowio.TensorArray, func(), error) {
	shape := make([]int, len(b.Shape))
	size := 1
	for i, d := range b.Shape {
		if d <= 0 {
			return nil, nil, fmt.Errorf("shared batch: shape %v", b.Shape)
		}
		shape[i] = int(d)
		size *= int(d)
	}
	n := int64(size) * b.Rows * 4
	if len(shape) == 0 || b.Rows < 0 || b.Offset < 0 || b.Offset+n > b.FileSize {
		return nil, nil, fmt.Errorf("shared batch: %d rows of %v at offset %d do not fit the file's %d bytes", b.Rows, b.Shape, b.Offset, b.FileSize)
	}
	buf, err := v.mapped(b.FileSize)
	if err != nil {
		v.mu.RUnlock()
		return nil, nil, err
	}
	raw := buf[b.Offset : b.Offset+n]
	typ := arrowio.NewTensorType(shape...)
	vals := array.NewData(arrow.PrimitiveTypes.Float32, int(b.Rows)*size, []*memory.Buffer{nil, memory.NewBufferBytes(raw)}, nil, 0, 0)
	defer vals.Release()
	nd := array.NewData(typ.Storage, int(b.Rows), []*memory.Buffer{nil}, []arrow.ArrayData{vals}, 0, 0)
	defer nd.Release()
	storage := array.NewFixedSizeListData(nd)
	defer storage.Release()
	img := array.NewExtensionArrayWithStorage(typ, storage).(*arrowio.TensorArray)
	return img, func() { img.Release(); v.mu.RUnlock() }, nil
}

// mapped read-locks (also when it fails) and returns a mapping of at least size bytes, mapping the file again when
// it grew.
func (v *sharedView) mapped(size int64) ([]byte, error) {
	v.mu.RLock()
	if int64(len(v.buf)) >= size {
		return v.buf, nil
	}
	v.mu.RUnlock()
	v.mu.Lock()
	defer v.mu.RLock() // runs after the Unlock below: the caller holds the read lock
	defer v.mu.Unlock()
	if int64(len(v.buf)) >= size {
		return v.buf, nil
	}
	buf, err := syscall.Mmap(v.fd, 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shared batch: map %d bytes: %w: %w", size, ErrUnmappable, err)
	}
	if v.buf != nil {
		_ = syscall.Munmap(v.buf)
	}
	v.buf = buf
	return buf, nil
}
