package main

import (
	"context"
	"fmt"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// version is the plugin's version, reported in Info.
const version = "0.1.0"

// runtime is the ONNX Runtime plugin (sdk.Runtime): each Load is one ONNX Runtime session.
type runtime struct{}

// newServer is the plugin as the SDK serves it on the wire, for in-process tests.
func newServer() pb.RuntimeServer { return sdk.NewRuntimeServer(runtime{}) }

func (runtime) Info() sdk.Info { return info }

// info declares the plugin and the runtime keys of a study (runtime: and a model's runtime:),
// which vistudy validate checks against these parameters.
var info = sdk.Info{Name: "onnxruntime", Version: version,
	Description: "ONNX Runtime: CPU, CUDA and TensorRT execution providers",
	Params: []params.Spec{
		{Name: "threads", Type: params.Int, Default: 0, Min: params.Bound(0), Max: params.Bound(1024),
			Description: "CPU threads of the model: chunk runs at once, one thread each; with whole batches, each run's intra-op threads (0: the cores; with whole batches, shared among the streams)"},
		{Name: "streams", Type: params.Int, Default: 0, Min: params.Bound(0), Max: params.Bound(64),
			Description: "batches of a stage the host sends a model at once (0: one)"},
		{Name: "chunk", Type: params.Int, Default: 0, Min: params.Bound(-1), Max: params.Bound(1 << 20),
			Description: "samples per inference run, side by side on one thread each (0: 4 with the CPU provider alone, else whole batches; -1: whole batches on the intra-op threads)"},
		{Name: "providers", Type: params.StringList, Default: []string{"cpu"}, Choices: []string{"tensorrt", "cuda", "cpu"}, MinLen: 1, MaxLen: 3,
			Description: "execution providers in order of preference"},
		{Name: "fallback", Type: params.Bool, Default: false,
			Description: "skip providers that cannot be set up (with a warning) instead of failing"},
		{Name: "library", Type: params.Path,
			Description: "the ONNX Runtime shared library (else ONNXRUNTIME_LIB, else the one make deps installed)"},
		{Name: "device_id", Type: params.Int, Default: 0, Min: params.Bound(0), Max: params.Bound(1023),
			Description: "GPU of the cuda and tensorrt providers"},
	}}

// Load opens the model in an ONNX Runtime session.
func (runtime) Load(_ context.Context, spec sdk.LoadSpec) (sdk.Session, error) {
	sess, err := loadSession(spec)
	if err != nil {
		return nil, sdk.BadInput(err)
	}
	return sess, nil
}

// Desc tells the session's input and output (sdk.Session).
func (s *session) Desc() sdk.SessionDesc {
	d := sdk.SessionDesc{Providers: s.providers, Batching: s.batching, Chunk: s.chunk, Warnings: s.warnings}
	in := sdk.TensorDesc{Name: s.input, DType: "float32", Shape: []int64{-1, 3, int64(s.h), int64(s.w)}}
	if s.nhwc {
		in.Shape = []int64{-1, int64(s.h), int64(s.w), 3}
	}
	k := int64(1)
	for _, d := range s.outShape {
		k *= d
	}
	d.Inputs = []sdk.TensorDesc{in}
	d.Outputs = []sdk.TensorDesc{{Name: s.output, DType: "float32", Shape: append([]int64{-1}, s.outShape...)}}
	d.NumClasses = int(k)
	return d
}

// checkImages refuses a batch of another image size than the model's.
func (s *session) checkImages(img *arrowio.TensorArray) error {
	if shape := img.Shape(); len(shape) != 3 || shape[0] != 3 || shape[1] != s.h || shape[2] != s.w {
		return sdk.BadInput(fmt.Errorf("model %s takes [3,%d,%d] images, the batch holds %v", s.name, s.h, s.w, shape))
	}
	return nil
}

// Infer runs a batch of images (sdk.Session).
func (s *session) Infer(_ context.Context, img *arrowio.TensorArray) (*sdk.Logits, error) {
	if err := s.checkImages(img); err != nil {
		return nil, err
	}
	out, k, err := s.run(img.Values(), img.Len())
	if err != nil {
		return nil, fmt.Errorf("model %s: run: %w", s.name, err)
	}
	return &sdk.Logits{K: k, Values: out}, nil
}

// SetOverrides replaces the overrides in force (sdk.Session).
func (s *session) SetOverrides(_ context.Context, overrides []sdk.Override) error {
	return s.setOverrides(overrides)
}

// Close releases the session (sdk.Session).
func (s *session) Close() error {
	s.close()
	return nil
}
