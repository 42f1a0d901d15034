package sdk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vistudy/vistudy/arrowio"
	pb "github.com/vistudy/vistudy/plugins/proto"
)

// InputMapping is how [0,1] RGB pixels become a model's input tensor.
type InputMapping struct {
	Channels      string // RGB or BGR
	Scale         float64
	Mean, Std     []float64 // 1 or 3 values, in the model's channel order
	Height, Width int
}

// LoadSpec is what a runtime is asked to load: a model file, how pixels become its input, which
// output to read, and how to run it.
type LoadSpec struct {
	Path, Name       string
	Input            InputMapping
	Output           string // logits or probabilities: what the chosen output holds
	OutputTensor     string // the tensor read instead of the graph's first output
	IntraThreads     int
	InterThreads     int
	Providers        []string // execution providers in order of preference
	ProviderFallback bool     // skip a provider that cannot be set up
	Overridable      []string // initializers SetOverrides may replace
	ProviderOptions  map[string]string
	DeviceID         int
	Streams          int    // batches the host sends at once: with IntraThreads 0 the runtime shares the cores among them
	Padding          string // Conv zero padding rewritten to reflect, replicate or circular ("" or zeros: as trained)
	Chunk            int    // samples per inference run: a batch runs in runs of at most this many (0: the runtime's choice; -1: whole batches)
}

// TensorDesc describes a model input or output.
type TensorDesc struct {
	Name  string
	DType string
	Shape []int64 // -1 for the batch
}

// SessionDesc is what a runtime tells about a loaded model.
type SessionDesc struct {
	Inputs, Outputs []TensorDesc
	NumClasses      int
	Providers       []string // in use, in order
	Batching        string   // how batches run (symbolic, rewritten, loop)
	Chunk           int      // samples per inference run (0: whole batches)
	Warnings        []string
}

// Override replaces one initializer of a loaded model (criticality's layer resets).
type Override struct {
	Name   string
	Dims   []int64
	Values []float32 // converted by the runtime to the initializer's type
}

// Runtime is a model runtime plugin: it loads models into sessions.
type Runtime interface {
	// Info declares the runtime's name, version and the study keys it takes (runtime: section).
	Info() Info
	// Load opens a model; an error marked with BadInput is the request's fault (not retried).
	Load(ctx context.Context, spec LoadSpec) (Session, error)
}

// Session is one loaded model.
type Session interface {
	// Desc tells the model's inputs, outputs and number of classes.
	Desc() SessionDesc
	// Infer returns the logits (ln p for probability models) of a batch of [C,H,W] images in [0,1].
	Infer(ctx context.Context, images *arrowio.TensorArray) (*Logits, error)
	// SetOverrides replaces the overrides in force (empty: the trained weights).
	SetOverrides(ctx context.Context, overrides []Override) error
	// Close releases the session.
	Close() error
}

// GradientSession is a Session that also returns input gradients (white-box attacks).
type GradientSession interface {
	Session
	// Gradient returns the logits, per-sample loss (cross_entropy or margin) and d loss / d pixels
	// in [0,1] space of a batch of images with known labels.
	Gradient(ctx context.Context, images *arrowio.TensorArray, labels []int32, loss string) (*Gradients, error)
}

// badInput marks an error the request caused.
type badInput struct{ err error }

func (e badInput) Error() string { return e.err.Error() }
func (e badInput) Unwrap() error { return e.err }

// BadInput marks err as the request's fault: the host reports it and does not retry.
func BadInput(err error) error { return badInput{err} }

// grpcError turns a runtime's error into a status: request errors are InvalidArgument, others
// Internal (the host then checks whether the process is alive).
func grpcError(err error) error {
	if errors.As(err, new(badInput)) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// ServeRuntime serves a model runtime as this process's plugin; call it from main.
func ServeRuntime(rt Runtime) {
	serve(KindRuntime, func(_ *plugin.GRPCBroker, s *grpc.Server) {
		pb.RegisterRuntimeServer(s, NewRuntimeServer(rt))
	})
}

// NewRuntimeServer adapts rt to the gRPC service (exported for in-process tests).
func NewRuntimeServer(rt Runtime) pb.RuntimeServer {
	return &runtimeServer{rt: rt, mem: memory.DefaultAllocator, sessions: map[string]Session{}, shared: openSharedViews()}
}

type runtimeServer struct {
	pb.UnimplementedRuntimeServer
	rt  Runtime
	mem memory.Allocator

	mu       sync.Mutex
	sessions map[string]Session
	next     int
	shared   sharedViews // the host's batch files (nil: batches come over the socket)
}

func (s *runtimeServer) Info(context.Context, *pb.Empty) (*pb.PluginInfo, error) {
	return s.rt.Info().ToProto(KindRuntime), nil
}

func (s *runtimeServer) Load(ctx context.Context, req *pb.LoadRequest) (*pb.LoadResponse, error) {
	sess, err := s.rt.Load(ctx, LoadSpecFromProto(req))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	s.next++
	id := fmt.Sprintf("%s#%d", req.Name, s.next)
	s.sessions[id] = sess
	s.mu.Unlock()
	d := sess.Desc()
	resp := &pb.LoadResponse{Session: id, NumClasses: int32(d.NumClasses), Providers: d.Providers, Batching: d.Batching, Chunk: int32(d.Chunk), Warnings: d.Warnings,
		SharedMemory: s.shared != nil}
	for _, t := range d.Inputs {
		resp.Inputs = append(resp.Inputs, &pb.TensorDesc{Name: t.Name, Dtype: t.DType, Shape: t.Shape})
	}
	for _, t := range d.Outputs {
		resp.Outputs = append(resp.Outputs, &pb.TensorDesc{Name: t.Name, Dtype: t.DType, Shape: t.Shape})
	}
	return resp, nil
}

func (s *runtimeServer) session(id string) (Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no session %q (load the model first)", id)
	}
	return sess, nil
}

// images decodes a request batch's image column (the caller releases the batch).
func (s *runtimeServer) images(data []byte) (arrow.RecordBatch, *arrowio.TensorArray, error) {
	rec, err := arrowio.DecodeIPC(data, s.mem)
	if err != nil {
		return nil, nil, status.Error(codes.InvalidArgument, err.Error())
	}
	img, err := arrowio.TensorColumn(rec, arrowio.ColImage)
	if err != nil {
		rec.Release()
		return nil, nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return rec, img, nil
}

func (s *runtimeServer) Infer(ctx context.Context, req *pb.InferRequest) (*pb.InferResponse, error) {
	sess, err := s.session(req.Session)
	if err != nil {
		return nil, err
	}
	var img *arrowio.TensorArray
	if req.Shared != nil {
		if s.shared == nil {
			return nil, status.Error(codes.InvalidArgument, "shared batch: the host passed no shared memory")
		}
		var done func()
		if img, done, err = s.shared.images(req.Shared); err != nil {
			if errors.Is(err, ErrUnmappable) { // the host sends this batch another way
				return nil, status.Error(codes.FailedPrecondition, err.Error())
			}
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		defer done()
	} else {
		rec, tensors, err := s.images(req.Batch)
		if err != nil {
			return nil, err
		}
		defer rec.Release()
		img = tensors
	}
	start := time.Now()
	out, err := sess.Infer(ctx, img)
	took := time.Since(start)
	if err != nil {
		return nil, grpcError(err)
	}
	logits, err := arrowio.NewTensorArray(s.mem, []int{out.K}, out.Values)
	if err != nil {
		return nil, err
	}
	defer logits.Release()
	res := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColLogits, Type: logits.DataType()}}, nil), []arrow.Array{logits}, int64(img.Len()))
	defer res.Release()
	data, err := arrowio.EncodeIPC(res, s.mem)
	if err != nil {
		return nil, err
	}
	return &pb.InferResponse{Batch: data, Seconds: took.Seconds()}, nil
}

func (s *runtimeServer) Gradient(ctx context.Context, req *pb.RuntimeGradientRequest) (*pb.GradientResponse, error) {
	sess, err := s.session(req.Session)
	if err != nil {
		return nil, err
	}
	gs, ok := sess.(GradientSession)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "runtime %s gives no gradients", s.rt.Info().Name)
	}
	rec, img, err := s.images(req.Batch)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	labels, err := arrowio.Int32Column(rec, arrowio.ColLabel)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	g, err := gs.Gradient(ctx, img, labels, req.Loss)
	if err != nil {
		return nil, grpcError(err)
	}
	data, err := gradientBatch(s.mem, g, img.Shape())
	if err != nil {
		return nil, err
	}
	return &pb.GradientResponse{Batch: data}, nil
}

// gradientBatch encodes the logits [K], loss and grad (shaped like the image) columns.
func gradientBatch(mem memory.Allocator, g *Gradients, shape []int) ([]byte, error) {
	lg, err := arrowio.NewTensorArray(mem, []int{g.Logits.K}, g.Logits.Values)
	if err != nil {
		return nil, err
	}
	defer lg.Release()
	gr, err := arrowio.NewTensorArray(mem, shape, g.Grad)
	if err != nil {
		return nil, err
	}
	defer gr.Release()
	lb := array.NewFloat32Builder(mem)
	defer lb.Release()
	lb.AppendValues(g.Loss, nil)
	ls := lb.NewArray()
	defer ls.Release()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColLogits, Type: lg.DataType()},
		{Name: ColLoss, Type: arrow.PrimitiveTypes.Float32},
		{Name: ColGrad, Type: gr.DataType()},
	}, nil)
	res := array.NewRecordBatch(schema, []arrow.Array{lg, ls, gr}, int64(len(g.Loss)))
	defer res.Release()
	return arrowio.EncodeIPC(res, mem)
}

func (s *runtimeServer) SetOverrides(ctx context.Context, req *pb.OverridesRequest) (*pb.Empty, error) {
	sess, err := s.session(req.Session)
	if err != nil {
		return nil, err
	}
	ovs, err := OverridesFromProto(req.Overrides)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := sess.SetOverrides(ctx, ovs); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.Empty{}, nil
}

func (s *runtimeServer) Unload(_ context.Context, req *pb.SessionRequest) (*pb.Empty, error) {
	s.mu.Lock()
	sess, ok := s.sessions[req.Session]
	delete(s.sessions, req.Session)
	s.mu.Unlock()
	if ok {
		sess.Close()
	}
	return &pb.Empty{}, nil
}

// LoadSpecFromProto reads a wire load request.
func LoadSpecFromProto(p *pb.LoadRequest) LoadSpec {
	in := p.GetInput()
	return LoadSpec{Path: p.Path, Name: p.Name, Output: p.Output, OutputTensor: p.OutputTensor,
		Input: InputMapping{Channels: in.GetChannels(), Scale: in.GetScale(), Mean: in.GetMean(), Std: in.GetStd(),
			Height: int(in.GetHeight()), Width: int(in.GetWidth())},
		IntraThreads: int(p.IntraThreads), InterThreads: int(p.InterThreads), Providers: p.Providers,
		ProviderFallback: p.ProviderFallback, Overridable: p.Overridable, ProviderOptions: p.ProviderOptions,
		DeviceID: int(p.DeviceId), Streams: int(p.Streams), Padding: p.Padding, Chunk: int(p.Chunk)}
}

// OverridesFromProto reads wire overrides.
func OverridesFromProto(ps []*pb.Override) ([]Override, error) {
	out := make([]Override, len(ps))
	for i, p := range ps {
		if len(p.Values)%4 != 0 {
			return nil, fmt.Errorf("override %s carries %d bytes, not float32 values", p.Name, len(p.Values))
		}
		vals := make([]float32, len(p.Values)/4)
		for j := range vals {
			vals[j] = math.Float32frombits(binary.LittleEndian.Uint32(p.Values[4*j:]))
		}
		out[i] = Override{Name: p.Name, Dims: p.Dims, Values: vals}
	}
	return out, nil
}
