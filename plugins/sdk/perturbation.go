package sdk

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	pb "github.com/vistudy/vistudy/plugins/proto"
)

// Perturbation transforms an image batch: a corruption, a filter or an attack.
type Perturbation interface {
	// Info declares the perturbation's name, version and parameters.
	Info() Info
	// Apply returns the batch with its image column replaced (same rows, same order), plus any
	// columns of its own. The caller releases both batches.
	Apply(ctx context.Context, p params.Values, batch arrow.RecordBatch, env *Env) (arrow.RecordBatch, error)
}

// Env is what Apply gets besides the batch.
type Env struct {
	Seed   uint64 // derived from (study seed, stage instance): mix it with each sample's id (RowSeeds) so numbers do not depend on batching
	Model  Model  // the attacked model (zero for model-free perturbations)
	Oracle Oracle // nil unless Info.NeedsModel
	Mem    memory.Allocator
}

// RowSeeds returns one seed per row of batch: seed mixed with the row's sample_id, so that a
// sample draws the same randomness whatever batch, unit or shard it falls in (a batch without a
// sample_id column mixes in the row index instead).
func RowSeeds(seed uint64, batch arrow.RecordBatch) []uint64 {
	out := make([]uint64, batch.NumRows())
	ids, err := arrowio.StringColumn(batch, arrowio.ColSampleID)
	for i := range out {
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], seed)
		h.Write(b[:])
		if err == nil {
			h.Write([]byte(ids[i]))
		} else {
			binary.LittleEndian.PutUint64(b[:], uint64(i))
			h.Write([]byte{0})
			h.Write(b[:])
		}
		out[i] = h.Sum64()
	}
	return out
}

// Logits are a batch of model outputs, row-major n × K.
type Logits struct {
	K      int
	Values []float32
}

// Row returns sample i's logits.
func (l *Logits) Row(i int) []float32 { return l.Values[i*l.K : (i+1)*l.K] }

// Oracle is the model under attack, served by the host.
type Oracle interface {
	// Predict returns the logits of a batch of images ([C,H,W] rows in [0,1]).
	Predict(ctx context.Context, images *arrowio.TensorArray) (*Logits, error)
	// Gradient returns logits, per-sample loss (cross_entropy, the default, or margin:
	// logit_y − max_{k≠y} logit_k) and d loss / d pixels for images with labels (≥ 0).
	Gradient(ctx context.Context, images *arrowio.TensorArray, labels []int32, loss string) (*Gradients, error)
}

// ServePerturbation serves p as this process's plugin; call it from main.
func ServePerturbation(p Perturbation) {
	serve(KindPerturbation, func(b *plugin.GRPCBroker, s *grpc.Server) {
		pb.RegisterPerturbationServer(s, NewPerturbationServer(p, b))
	})
}

// NewPerturbationServer adapts p to the gRPC service; broker may be nil for model-free plugins.
func NewPerturbationServer(p Perturbation, broker *plugin.GRPCBroker) pb.PerturbationServer {
	return &perturbationServer{p: p, info: p.Info(), broker: broker, mem: memory.DefaultAllocator,
		oracles: map[uint32]*oracleClient{}}
}

type perturbationServer struct {
	pb.UnimplementedPerturbationServer
	p      Perturbation
	info   Info
	broker *plugin.GRPCBroker
	mem    memory.Allocator

	mu      sync.Mutex
	oracles map[uint32]*oracleClient // one connection per broker id, dialled once
}

func (s *perturbationServer) Info(context.Context, *pb.Empty) (*pb.PluginInfo, error) {
	return s.info.ToProto(KindPerturbation), nil
}

func (s *perturbationServer) oracle(id uint32) (Oracle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.oracles[id]; ok {
		return o, nil
	}
	if s.broker == nil {
		return nil, fmt.Errorf("%s: no broker to reach the model oracle", s.info.Name)
	}
	conn, err := s.broker.DialWithOptions(id, grpc.WithDefaultCallOptions(CallOptions()...))
	if err != nil {
		return nil, fmt.Errorf("%s: dial model oracle %d: %w", s.info.Name, id, err)
	}
	o := &oracleClient{c: pb.NewOracleClient(conn), mem: s.mem}
	s.oracles[id] = o
	return o, nil
}

// Connect dials the oracle the host serves on the broker now, while its connection info is fresh.
func (s *perturbationServer) Connect(_ context.Context, req *pb.ConnectRequest) (*pb.Empty, error) {
	if _, err := s.oracle(req.Oracle); err != nil {
		return nil, err
	}
	return &pb.Empty{}, nil
}

func (s *perturbationServer) Apply(ctx context.Context, req *pb.ApplyRequest) (*pb.ApplyResponse, error) {
	p, err := params.Parse(s.info.Params, req.ParamsJson)
	if err != nil {
		return nil, badRequest(fmt.Errorf("%s: %w", s.info.Name, err))
	}
	batch, err := arrowio.DecodeIPC(req.Batch, s.mem)
	if err != nil {
		return nil, badRequest(err)
	}
	defer batch.Release()
	if err := requireColumns(s.info, batch); err != nil {
		return nil, badRequest(err)
	}
	env := &Env{Seed: req.Seed, Model: ModelFromProto(req.Model), Mem: s.mem}
	if s.info.NeedsModel {
		if req.Oracle == 0 {
			return nil, badRequest(fmt.Errorf("%s needs a model oracle and the request carries none", s.info.Name))
		}
		if env.Oracle, err = s.oracle(req.Oracle); err != nil {
			return nil, err
		}
	}
	out, err := s.p.Apply(ctx, p, batch, env)
	if err != nil {
		return nil, badRequest(fmt.Errorf("%s: %w", s.info.Name, err))
	}
	defer out.Release()
	if out.NumRows() != batch.NumRows() {
		return nil, fmt.Errorf("%s returned %d rows for %d", s.info.Name, out.NumRows(), batch.NumRows())
	}
	data, err := arrowio.EncodeIPC(out, s.mem)
	if err != nil {
		return nil, err
	}
	return &pb.ApplyResponse{Batch: data}, nil
}

// oracleClient is the plugin side of the model oracle.
type oracleClient struct {
	c   pb.OracleClient
	mem memory.Allocator
}

func (o *oracleClient) Predict(ctx context.Context, images *arrowio.TensorArray) (*Logits, error) {
	rec := ImagesBatch(images)
	defer rec.Release()
	data, err := arrowio.EncodeIPC(rec, o.mem)
	if err != nil {
		return nil, err
	}
	resp, err := o.c.Predict(ctx, &pb.OracleRequest{Batch: data})
	if err != nil {
		return nil, fmt.Errorf("model oracle: predict: %w", err)
	}
	return DecodeLogits(resp.Batch, o.mem)
}

// ImagesBatch wraps an image tensor array as a one-column batch.
func ImagesBatch(images *arrowio.TensorArray) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: images.DataType()}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{images}, int64(images.Len()))
}

// DecodeLogits reads the logits column of an IPC batch.
func DecodeLogits(data []byte, mem memory.Allocator) (*Logits, error) {
	rec, err := arrowio.DecodeIPC(data, mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	t, err := arrowio.TensorColumn(rec, arrowio.ColLogits)
	if err != nil {
		return nil, err
	}
	k := 1
	for _, d := range t.Shape() {
		k *= d
	}
	return &Logits{K: k, Values: append([]float32(nil), t.Values()...)}, nil
}

// Columns of a gradient batch besides the logits.
const (
	ColLoss = "loss" // float32, the per-sample loss
	ColGrad = "grad" // tensor like image: d loss / d pixels in [0,1] RGB space
)

// Gradients are the oracle's answer to Gradient: logits (n × K), per-sample loss and
// d loss / d pixels, laid out like the images.
type Gradients struct {
	Logits Logits
	Loss   []float32
	Grad   []float32
}

func (o *oracleClient) Gradient(ctx context.Context, images *arrowio.TensorArray, labels []int32, loss string) (*Gradients, error) {
	rec, err := imagesLabelsBatch(images, labels, o.mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	data, err := arrowio.EncodeIPC(rec, o.mem)
	if err != nil {
		return nil, err
	}
	resp, err := o.c.Gradient(ctx, &pb.GradientRequest{Batch: data, Loss: loss})
	if err != nil {
		return nil, fmt.Errorf("model oracle: gradient: %w", err)
	}
	return DecodeGradients(resp.Batch, o.mem)
}

// imagesLabelsBatch wraps images and their labels as a two-column batch.
func imagesLabelsBatch(images *arrowio.TensorArray, labels []int32, mem memory.Allocator) (arrow.RecordBatch, error) {
	if len(labels) != images.Len() {
		return nil, fmt.Errorf("gradient: %d labels for %d images", len(labels), images.Len())
	}
	lb := array.NewInt32Builder(mem)
	defer lb.Release()
	lb.AppendValues(labels, nil)
	lab := lb.NewArray()
	defer lab.Release()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColImage, Type: images.DataType()},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{images, lab}, int64(images.Len())), nil
}

// DecodeGradients reads the logits, loss and grad columns of an IPC batch.
func DecodeGradients(data []byte, mem memory.Allocator) (*Gradients, error) {
	rec, err := arrowio.DecodeIPC(data, mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	lg, err := arrowio.TensorColumn(rec, arrowio.ColLogits)
	if err != nil {
		return nil, err
	}
	gr, err := arrowio.TensorColumn(rec, ColGrad)
	if err != nil {
		return nil, err
	}
	idx := rec.Schema().FieldIndices(ColLoss)
	if len(idx) != 1 {
		return nil, fmt.Errorf("gradient batch has no %q column", ColLoss)
	}
	ls, ok := rec.Column(idx[0]).(*array.Float32)
	if !ok {
		return nil, fmt.Errorf("gradient column %q is %s, want float32", ColLoss, rec.Column(idx[0]).DataType())
	}
	k := 1
	for _, d := range lg.Shape() {
		k *= d
	}
	return &Gradients{Logits: Logits{K: k, Values: append([]float32(nil), lg.Values()...)},
		Loss: append([]float32(nil), ls.Float32Values()...), Grad: append([]float32(nil), gr.Values()...)}, nil
}
