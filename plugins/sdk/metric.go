package sdk

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	pb "github.com/vistudy/vistudy/plugins/proto"
)

// Row is one tidy result row a metric reports; the host adds model and stage.
type Row struct {
	Metric string
	Group  string
	Value  float64
	N      int64
}

// Metric is a metric with mergeable state S. S crosses the process boundary as JSON, so
// keep it to exact quantities (counts, sums) that merge without loss.
type Metric[S any] interface {
	// Info declares the metric's name, version and parameters.
	Info() Info
	// Init returns the empty state.
	Init(p params.Values, m Model) (S, error)
	// Accumulate folds one predictions batch into the state.
	Accumulate(p params.Values, m Model, s S, batch arrow.RecordBatch) (S, error)
	// Merge combines two states; merging in unit order must give the same state as one pass.
	Merge(p params.Values, m Model, a, b S) (S, error)
	// Report turns the final state into tidy rows.
	Report(p params.Values, m Model, s S) ([]Row, error)
}

// Sampler is optionally implemented by a metric that also emits per-sample rows.
type Sampler interface {
	// Samples returns per-sample rows for the batch (nil for none); the host writes them as a table.
	Samples(p params.Values, m Model, batch arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error)
}

// ServeMetric serves m as this process's plugin; call it from main.
func ServeMetric[S any](m Metric[S]) {
	serve(KindMetric, func(_ *plugin.GRPCBroker, s *grpc.Server) {
		pb.RegisterMetricServer(s, NewMetricServer(m))
	})
}

// NewMetricServer adapts m to the gRPC service (exported for in-process tests).
func NewMetricServer[S any](m Metric[S]) pb.MetricServer {
	return &metricServer[S]{m: m, info: m.Info(), mem: memory.DefaultAllocator}
}

type metricServer[S any] struct {
	pb.UnimplementedMetricServer
	m    Metric[S]
	info Info
	mem  memory.Allocator
}

// badRequest marks errors caused by the request, which the host must not retry.
func badRequest(err error) error { return status.Error(codes.InvalidArgument, err.Error()) }

func (s *metricServer[S]) Info(context.Context, *pb.Empty) (*pb.PluginInfo, error) {
	return s.info.ToProto(KindMetric), nil
}

func (s *metricServer[S]) params(js string) (params.Values, error) {
	v, err := params.Parse(s.info.Params, js)
	if err != nil {
		return nil, badRequest(fmt.Errorf("%s: %w", s.info.Name, err))
	}
	return v, nil
}

func (s *metricServer[S]) decode(data []byte) (S, error) {
	var st S
	if err := json.Unmarshal(data, &st); err != nil {
		return st, badRequest(fmt.Errorf("%s: decode state: %w", s.info.Name, err))
	}
	return st, nil
}

func (s *metricServer[S]) encode(st S) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("%s: encode state: %w", s.info.Name, err)
	}
	return b, nil
}

func (s *metricServer[S]) Init(_ context.Context, req *pb.MetricRequest) (*pb.State, error) {
	p, err := s.params(req.ParamsJson)
	if err != nil {
		return nil, err
	}
	st, err := s.m.Init(p, ModelFromProto(req.Model))
	if err != nil {
		return nil, badRequest(fmt.Errorf("%s: init: %w", s.info.Name, err))
	}
	b, err := s.encode(st)
	return &pb.State{Data: b}, err
}

func (s *metricServer[S]) Accumulate(_ context.Context, req *pb.AccumulateRequest) (*pb.AccumulateResponse, error) {
	p, err := s.params(req.ParamsJson)
	if err != nil {
		return nil, err
	}
	st, err := s.decode(req.State)
	if err != nil {
		return nil, err
	}
	batch, err := arrowio.DecodeIPC(req.Batch, s.mem)
	if err != nil {
		return nil, badRequest(err)
	}
	defer batch.Release()
	if err := requireColumns(s.info, batch); err != nil {
		return nil, badRequest(err)
	}
	model := ModelFromProto(req.Model)
	st, err = s.m.Accumulate(p, model, st, batch)
	if err != nil {
		return nil, badRequest(fmt.Errorf("%s: accumulate: %w", s.info.Name, err))
	}
	resp := &pb.AccumulateResponse{}
	if resp.State, err = s.encode(st); err != nil {
		return nil, err
	}
	if sm, ok := s.m.(Sampler); ok {
		rows, err := sm.Samples(p, model, batch, s.mem)
		if err != nil {
			return nil, badRequest(fmt.Errorf("%s: samples: %w", s.info.Name, err))
		}
		if rows != nil {
			defer rows.Release()
			if resp.Samples, err = arrowio.EncodeIPC(rows, s.mem); err != nil {
				return nil, err
			}
		}
	}
	return resp, nil
}

func (s *metricServer[S]) Merge(_ context.Context, req *pb.MergeRequest) (*pb.State, error) {
	p, err := s.params(req.ParamsJson)
	if err != nil {
		return nil, err
	}
	model := ModelFromProto(req.Model)
	acc, err := s.m.Init(p, model)
	if err != nil {
		return nil, badRequest(fmt.Errorf("%s: init: %w", s.info.Name, err))
	}
	for i, data := range req.States {
		st, err := s.decode(data)
		if err != nil {
			return nil, err
		}
		if acc, err = s.m.Merge(p, model, acc, st); err != nil {
			return nil, badRequest(fmt.Errorf("%s: merge state %d: %w", s.info.Name, i, err))
		}
	}
	b, err := s.encode(acc)
	return &pb.State{Data: b}, err
}

func (s *metricServer[S]) Report(_ context.Context, req *pb.ReportRequest) (*pb.ReportResponse, error) {
	p, err := s.params(req.ParamsJson)
	if err != nil {
		return nil, err
	}
	st, err := s.decode(req.State)
	if err != nil {
		return nil, err
	}
	rows, err := s.m.Report(p, ModelFromProto(req.Model), st)
	if err != nil {
		return nil, badRequest(fmt.Errorf("%s: report: %w", s.info.Name, err))
	}
	out := &pb.ReportResponse{Rows: make([]*pb.Row, len(rows))}
	for i, r := range rows {
		out.Rows[i] = &pb.Row{Metric: r.Metric, Group: r.Group, Value: r.Value, N: r.N}
	}
	return out, nil
}

// requireColumns checks that batch carries the columns info declares.
func requireColumns(info Info, batch arrow.RecordBatch) error {
	for _, c := range info.Requires {
		if _, ok := arrowio.Field(batch.Schema(), c); !ok {
			return fmt.Errorf("%s needs column %q, which the input batch lacks", info.Name, c)
		}
	}
	return nil
}
