package host

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vistudy/vistudy/arrowio"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// PredictFunc answers the model oracle: logits for a batch holding an image column.
// The returned batch (with a logits column) is released by the caller.
type PredictFunc func(ctx context.Context, images arrow.RecordBatch) (arrow.RecordBatch, error)

// GradientFunc answers the oracle's Gradient: a batch with image and label columns in, logits,
// loss and grad columns out (Runtime.Gradient). The caller releases the result.
type GradientFunc func(ctx context.Context, batch arrow.RecordBatch, loss string) (arrow.RecordBatch, error)

// Perturbation is a running perturbation plugin, bound to one model when it needs one.
type Perturbation struct {
	sup      *supervised
	model    *pb.ModelContext
	predict  PredictFunc
	gradient GradientFunc // nil: the oracle answers Gradient with Unimplemented
	mem      memory.Allocator
	oracleID uint32 // broker id of the oracle served to the current process
}

// StartPerturbation launches perturbation plugin e. predict must be non-nil when the
// plugin needs a model: the oracle is served to the plugin once per process through the broker.
func StartPerturbation(ctx context.Context, e *Entry, model sdk.Model, predict PredictFunc, mem memory.Allocator) (*Perturbation, error) {
	return StartPerturbationWithGradient(ctx, e, model, predict, nil, mem)
}

// StartPerturbationWithGradient is StartPerturbation with an oracle that also answers Gradient
// (white-box attacks); gradient may be nil.
func StartPerturbationWithGradient(ctx context.Context, e *Entry, model sdk.Model, predict PredictFunc, gradient GradientFunc, mem memory.Allocator) (*Perturbation, error) {
	if e.Kind != sdk.KindPerturbation {
		return nil, fmt.Errorf("plugins: %s is a %s plugin, not a perturbation", e.Info.Name, e.Kind)
	}
	if e.Info.NeedsModel && predict == nil {
		return nil, fmt.Errorf("plugins: %s needs a model", e.Info.Name)
	}
	pt := &Perturbation{model: modelProto(model), predict: predict, gradient: gradient, mem: mem}
	sup, err := newSupervised(e, pt.serveOracle)
	if err != nil {
		return nil, err
	}
	pt.sup = sup
	if err := pt.serveOracle(ctx, sup.current()); err != nil {
		sup.Close()
		return nil, err
	}
	return pt, nil
}

// serveOracle starts the oracle server on a new broker id for process p and has the plugin
// connect to it at once: go-plugin drops connection info nobody dials within 5 seconds.
func (pt *Perturbation) serveOracle(ctx context.Context, p *process) error {
	if pt.predict == nil {
		return nil
	}
	id := p.conn.Broker.NextId()
	go p.conn.Broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(sdk.ServerOptions(opts)...)
		pb.RegisterOracleServer(s, &oracleServer{predict: pt.predict, gradient: pt.gradient, mem: pt.mem})
		return s
	})
	if _, err := pb.NewPerturbationClient(p.conn.Conn).Connect(ctx, &pb.ConnectRequest{Oracle: id}); err != nil {
		return fmt.Errorf("plugins: %s: connect to the model oracle: %w", p.entry.Info.Name, Plain(err))
	}
	pt.oracleID = id
	return nil
}

// Close stops the plugin process.
func (pt *Perturbation) Close() { pt.sup.Close() }

// Restarts counts crash restarts so far.
func (pt *Perturbation) Restarts() int { return pt.sup.Restarts() }

// Apply perturbs batch with the given parameters (JSON) and seed; the caller releases the result.
func (pt *Perturbation) Apply(ctx context.Context, paramsJSON string, batch arrow.RecordBatch, seed uint64) (arrow.RecordBatch, error) {
	data, err := arrowio.EncodeIPC(batch, pt.mem)
	if err != nil {
		return nil, err
	}
	var resp *pb.ApplyResponse
	err = pt.sup.doSized(ctx, "apply", len(data), func(p *process) error {
		var err error
		resp, err = pb.NewPerturbationClient(p.conn.Conn).Apply(ctx, &pb.ApplyRequest{
			ParamsJson: paramsJSON, Batch: data, Seed: seed, Oracle: pt.oracleID, Model: pt.model})
		return err
	})
	if err != nil {
		return nil, err
	}
	out, err := arrowio.DecodeIPC(resp.Batch, pt.mem)
	if err != nil {
		return nil, err
	}
	if out.NumRows() != batch.NumRows() {
		out.Release()
		return nil, fmt.Errorf("plugins: %s returned %d rows for %d", pt.sup.entry.Info.Name, out.NumRows(), batch.NumRows())
	}
	return out, nil
}

// oracleServer is the host side of the model oracle.
type oracleServer struct {
	pb.UnimplementedOracleServer
	predict  PredictFunc
	gradient GradientFunc
	mem      memory.Allocator
}

func (o *oracleServer) Gradient(ctx context.Context, req *pb.GradientRequest) (*pb.GradientResponse, error) {
	if o.gradient == nil {
		return nil, status.Error(codes.Unimplemented, "the model oracle serves no gradients here (the stage was started without one)")
	}
	rec, err := arrowio.DecodeIPC(req.Batch, o.mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	out, err := o.gradient(ctx, rec, req.Loss)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	data, err := arrowio.EncodeIPC(out, o.mem)
	if err != nil {
		return nil, err
	}
	return &pb.GradientResponse{Batch: data}, nil
}

func (o *oracleServer) Predict(ctx context.Context, req *pb.OracleRequest) (*pb.OracleResponse, error) {
	rec, err := arrowio.DecodeIPC(req.Batch, o.mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	out, err := o.predict(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	data, err := arrowio.EncodeIPC(out, o.mem)
	if err != nil {
		return nil, err
	}
	return &pb.OracleResponse{Batch: data}, nil
}
