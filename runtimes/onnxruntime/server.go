package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// version is the plugin's version, reported in Info.
const version = "0.1.0"

// server is the runtime service: it holds the sessions of the models it loaded.
type server struct {
	pb.UnimplementedRuntimeServer
	mem memory.Allocator

	mu       sync.Mutex
	sessions map[string]*session
	next     int
}

func newServer() *server {
	return &server{mem: memory.DefaultAllocator, sessions: map[string]*session{}}
}

func (s *server) Info(context.Context, *pb.Empty) (*pb.PluginInfo, error) {
	return info.ToProto(sdk.KindRuntime), nil
}

// info declares the plugin and the runtime keys of a study (runtime: and a model's runtime:),
// which vistudy validate checks against these parameters.
var info = sdk.Info{Name: "onnxruntime", Version: version,
	Description: "ONNX Runtime: CPU, CUDA and TensorRT execution providers",
	Params: []params.Spec{
		{Name: "threads", Type: params.Int, Default: 0, Min: params.Bound(0), Max: params.Bound(1024),
			Description: "intra-op threads per model (0: ONNX Runtime's default)"},
		{Name: "providers", Type: params.StringList, Default: []string{"cpu"}, Choices: []string{"tensorrt", "cuda", "cpu"}, MinLen: 1, MaxLen: 3,
			Description: "execution providers in order of preference"},
		{Name: "fallback", Type: params.Bool, Default: false,
			Description: "skip providers that cannot be set up (with a warning) instead of failing"},
		{Name: "library", Type: params.Path,
			Description: "the ONNX Runtime shared library (else ONNXRUNTIME_LIB, else the one make deps installed)"},
		{Name: "device_id", Type: params.Int, Default: 0, Min: params.Bound(0), Max: params.Bound(1023),
			Description: "GPU of the cuda and tensorrt providers"},
	}}

func (s *server) Load(_ context.Context, req *pb.LoadRequest) (*pb.LoadResponse, error) {
	sess, err := loadSession(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	s.next++
	id := fmt.Sprintf("%s#%d", req.Name, s.next)
	s.sessions[id] = sess
	s.mu.Unlock()
	resp := &pb.LoadResponse{Session: id, Providers: sess.providers, Batching: sess.batching, Warnings: sess.warnings}
	resp.Inputs = []*pb.TensorDesc{{Name: sess.input, Dtype: "float32", Shape: []int64{-1, 3, int64(sess.h), int64(sess.w)}}}
	if sess.nhwc {
		resp.Inputs[0].Shape = []int64{-1, int64(sess.h), int64(sess.w), 3}
	}
	k := int64(1)
	for _, d := range sess.outShape {
		k *= d
	}
	resp.Outputs = []*pb.TensorDesc{{Name: sess.output, Dtype: "float32", Shape: append([]int64{-1}, sess.outShape...)}}
	resp.NumClasses = int32(k)
	return resp, nil
}

func (s *server) session(id string) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no session %q (load the model first)", id)
	}
	return sess, nil
}

func (s *server) Infer(_ context.Context, req *pb.InferRequest) (*pb.InferResponse, error) {
	sess, err := s.session(req.Session)
	if err != nil {
		return nil, err
	}
	rec, err := arrowio.DecodeIPC(req.Batch, s.mem)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	defer rec.Release()
	img, err := arrowio.TensorColumn(rec, arrowio.ColImage)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if shape := img.Shape(); len(shape) != 3 || shape[0] != 3 || shape[1] != sess.h || shape[2] != sess.w {
		return nil, status.Errorf(codes.InvalidArgument, "model %s takes [3,%d,%d] images, the batch holds %v", sess.name, sess.h, sess.w, shape)
	}
	n := img.Len()
	out, k, err := sess.run(img.Values(), n)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "model %s: run: %v", sess.name, err)
	}
	logits, err := arrowio.NewTensorArray(s.mem, []int{k}, out)
	if err != nil {
		return nil, err
	}
	defer logits.Release()
	res := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColLogits, Type: logits.DataType()}}, nil), []arrow.Array{logits}, int64(n))
	defer res.Release()
	data, err := arrowio.EncodeIPC(res, s.mem)
	if err != nil {
		return nil, err
	}
	return &pb.InferResponse{Batch: data}, nil
}

func (s *server) SetOverrides(_ context.Context, req *pb.OverridesRequest) (*pb.Empty, error) {
	sess, err := s.session(req.Session)
	if err != nil {
		return nil, err
	}
	if err := sess.setOverrides(req.Overrides); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.Empty{}, nil
}

func (s *server) Unload(_ context.Context, req *pb.SessionRequest) (*pb.Empty, error) {
	s.mu.Lock()
	sess, ok := s.sessions[req.Session]
	delete(s.sessions, req.Session)
	s.mu.Unlock()
	if ok {
		sess.close()
	}
	return &pb.Empty{}, nil
}
