package host

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	gproto "google.golang.org/protobuf/proto"

	"github.com/vistudy/vistudy/arrowio"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Runtime is a running runtime plugin with one model loaded.
type Runtime struct {
	sup  *supervised
	load *pb.LoadRequest
	mem  memory.Allocator

	mu        sync.Mutex
	session   string
	desc      *pb.LoadResponse
	overrides []*pb.Override
}

// StartRuntime launches runtime plugin e and loads the model of req into it.
func StartRuntime(ctx context.Context, e *Entry, req *pb.LoadRequest, mem memory.Allocator) (*Runtime, error) {
	return startRuntime(ctx, e, req, mem)
}

// StartRuntimeSpec is StartRuntime for a load spec in Go types (what the pipeline and stages use).
func StartRuntimeSpec(ctx context.Context, e *Entry, spec sdk.LoadSpec, mem memory.Allocator) (*Runtime, error) {
	return startRuntime(ctx, e, loadProto(spec), mem)
}

func startRuntime(ctx context.Context, e *Entry, req *pb.LoadRequest, mem memory.Allocator) (*Runtime, error) {
	if e.Kind != sdk.KindRuntime {
		return nil, fmt.Errorf("plugins: %s is a %s plugin, not a runtime", e.Info.Name, e.Kind)
	}
	rt := &Runtime{load: gproto.Clone(req).(*pb.LoadRequest), mem: mem}
	sup, err := newSupervised(e, rt.restore)
	if err != nil {
		return nil, err
	}
	rt.sup = sup
	if err := rt.restore(ctx, sup.current()); err != nil {
		sup.Close()
		return nil, err
	}
	return rt, nil
}

// restore loads the model into process p and re-applies the current overrides.
func (rt *Runtime) restore(ctx context.Context, p *process) error {
	c := pb.NewRuntimeClient(p.conn.Conn)
	resp, err := c.Load(ctx, rt.load)
	if err != nil {
		return fmt.Errorf("load model %s (%s): %w", rt.load.Name, rt.load.Path, Plain(err))
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.session, rt.desc = resp.Session, resp
	if len(rt.overrides) > 0 {
		if _, err := c.SetOverrides(ctx, &pb.OverridesRequest{Session: resp.Session, Overrides: rt.overrides}); err != nil {
			return fmt.Errorf("model %s: restore overrides: %w", rt.load.Name, Plain(err))
		}
	}
	return nil
}

// Desc describes the loaded model.
func (rt *Runtime) Desc() *pb.LoadResponse {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.desc
}

// Close stops the plugin process.
func (rt *Runtime) Close() { rt.sup.Close() }

// Restarts counts crash restarts so far.
func (rt *Runtime) Restarts() int { return rt.sup.Restarts() }

// PID is the plugin's current process id (for supervision tests).
func (rt *Runtime) PID() int { return rt.sup.current().pid() }

func (rt *Runtime) sessionID() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.session
}

// Infer runs a batch with an image column and returns a batch with the logits column.
func (rt *Runtime) Infer(ctx context.Context, images arrow.RecordBatch) (arrow.RecordBatch, error) {
	out, _, err := rt.InferTimed(ctx, images)
	return out, err
}

// InferTimed is Infer that also returns the runtime's own time for the batch, as the plugin
// reports it (0 when it does not): the rest of the call's time is the plugin hop.
func (rt *Runtime) InferTimed(ctx context.Context, images arrow.RecordBatch) (arrow.RecordBatch, time.Duration, error) {
	img, err := arrowio.TensorColumn(images, arrowio.ColImage)
	if err != nil {
		return nil, 0, fmt.Errorf("model %s: infer: %w", rt.load.Name, err)
	}
	var data []byte // the Arrow IPC encoding, made once when a call sends it over the socket
	var resp *pb.InferResponse
	err = rt.sup.doSized(ctx, "infer", 4*len(img.Values()), func(p *process) error {
		req := &pb.InferRequest{Session: rt.sessionID()}
		client := pb.NewRuntimeClient(p.conn.Conn)
		// viaShared sends the batch as shared, and reports whether that was the answer; a runtime
		// that cannot map that memory is not sent such batches again (off), with one warning.
		viaShared := func(shared *pb.SharedBatch, off *atomic.Bool, warning string) (bool, error) {
			req.Shared = shared
			var err error
			if resp, err = client.Infer(ctx, req); !unmappable(err) {
				return true, err
			}
			logger.Warn(warning, "plugin", p.entry.Info.Name, "error", Plain(err))
			off.Store(true)
			req.Shared = nil
			return false, nil
		}
		var m *sharedMem
		var file int
		if rt.Desc().SharedMemory {
			if shared, ok := arenaBatch(p, img); ok { // the pixels already live in shared memory
				if done, err := viaShared(shared, &p.noArena, "the runtime cannot map the shared arena (an address-space limit?); batches are copied to it"); done {
					return err
				}
			}
			if !p.noShm.Load() {
				m, file = p.shm.acquire()
			}
		}
		if m != nil {
			defer m.release()
			shared, err := writeShared(m, img)
			if err != nil {
				return err
			}
			shared.File = int32(file)
			if done, err := viaShared(shared, &p.noShm, "the runtime cannot map shared memory; batches go over the socket"); done {
				return err
			}
		}
		var err error
		if data == nil {
			if data, err = arrowio.EncodeIPC(images, rt.mem); err != nil {
				return err
			}
		}
		req.Batch = data
		resp, err = client.Infer(ctx, req)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("model %s: infer: %w", rt.load.Name, err)
	}
	out, err := arrowio.DecodeIPC(resp.Batch, rt.mem)
	if err != nil {
		return nil, 0, err
	}
	if out.NumRows() != images.NumRows() {
		out.Release()
		return nil, 0, fmt.Errorf("model %s: runtime returned %d rows for %d", rt.load.Name, out.NumRows(), images.NumRows())
	}
	return out, time.Duration(resp.Seconds * float64(time.Second)), nil
}

// unmappable reports whether the runtime answered that it cannot map the shared memory of the
// call (sdk.ErrUnmappable): the batch is then sent another way.
func unmappable(err error) bool { return status.Code(err) == codes.FailedPrecondition }

// arenaBatch locates the images in SharedArena when their pixels live there and the process maps it.
func arenaBatch(p *process, img *arrowio.TensorArray) (*pb.SharedBatch, bool) {
	vals := img.Values()
	if p.arena < 0 || p.noArena.Load() || len(vals) == 0 {
		return nil, false
	}
	a := SharedArena()
	off, ok := a.offset(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), 4*len(vals)))
	if !ok {
		return nil, false
	}
	b := sharedBatch(img)
	b.File, b.Offset, b.FileSize = int32(p.arena), off, a.size()
	return b, true
}

// sharedBatch describes the images' rows and shape (the caller sets where they are).
func sharedBatch(img *arrowio.TensorArray) *pb.SharedBatch {
	shape := img.Shape()
	dims := make([]int32, len(shape))
	for i, d := range shape {
		dims[i] = int32(d)
	}
	return &pb.SharedBatch{Rows: int64(img.Len()), Shape: dims}
}

// writeShared copies the images into the shared memory the caller holds (the one copy of the hop).
func writeShared(m *sharedMem, img *arrowio.TensorArray) (*pb.SharedBatch, error) {
	vals := img.Values()
	buf, err := m.reserve(4 * len(vals))
	if err != nil {
		return nil, err
	}
	if len(vals) > 0 {
		copy(unsafe.Slice((*float32)(unsafe.Pointer(&buf[0])), len(vals)), vals)
	}
	b := sharedBatch(img)
	b.FileSize = m.size()
	return b, nil
}

// SetOverrides replaces the current weight overrides (empty: the original weights).
func (rt *Runtime) SetOverrides(ctx context.Context, ovs []sdk.Override) error {
	overrides := overridesProto(ovs)
	rt.mu.Lock()
	rt.overrides = overrides
	rt.mu.Unlock()
	return rt.sup.do(ctx, "set overrides", func(p *process) error {
		_, err := pb.NewRuntimeClient(p.conn.Conn).SetOverrides(ctx, &pb.OverridesRequest{Session: rt.sessionID(), Overrides: overrides})
		return err
	})
}

// Gradient runs a batch with image and label columns through the model's gradient graph and
// returns a batch with logits, loss and grad (d loss / d pixels, like image) columns; loss is
// cross_entropy ("" too) or margin. The caller releases the result.
func (rt *Runtime) Gradient(ctx context.Context, batch arrow.RecordBatch, loss string) (arrow.RecordBatch, error) {
	data, err := arrowio.EncodeIPC(batch, rt.mem)
	if err != nil {
		return nil, err
	}
	var resp *pb.GradientResponse
	err = rt.sup.do(ctx, "gradient", func(p *process) error {
		var err error
		resp, err = pb.NewRuntimeClient(p.conn.Conn).Gradient(ctx, &pb.RuntimeGradientRequest{Session: rt.sessionID(), Batch: data, Loss: loss})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("model %s: gradient: %w", rt.load.Name, err)
	}
	out, err := arrowio.DecodeIPC(resp.Batch, rt.mem)
	if err != nil {
		return nil, err
	}
	if out.NumRows() != batch.NumRows() {
		out.Release()
		return nil, fmt.Errorf("model %s: runtime returned %d gradient rows for %d", rt.load.Name, out.NumRows(), batch.NumRows())
	}
	return out, nil
}
