package host

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// MetricProcess is a running metric plugin; Bind gives clients for parameter sets and models.
type MetricProcess struct {
	sup *supervised
	mem memory.Allocator
}

// StartMetric launches the metric plugin e.
func StartMetric(e *Entry, mem memory.Allocator) (*MetricProcess, error) {
	if e.Kind != sdk.KindMetric {
		return nil, fmt.Errorf("plugins: %s is a %s plugin, not a metric", e.Info.Name, e.Kind)
	}
	sup, err := newSupervised(e, nil)
	if err != nil {
		return nil, err
	}
	return &MetricProcess{sup: sup, mem: mem}, nil
}

// Close stops the plugin process.
func (mp *MetricProcess) Close() { mp.sup.Close() }

// Restarts counts crash restarts so far.
func (mp *MetricProcess) Restarts() int { return mp.sup.Restarts() }

// PID is the plugin's current process id (for supervision tests).
func (mp *MetricProcess) PID() int { return mp.sup.current().pid() }

// Bind returns a client of the process for one parameter set (JSON) and model.
func (mp *MetricProcess) Bind(paramsJSON string, model sdk.Model) *Metric {
	return &Metric{sup: mp.sup, params: paramsJSON, model: modelProto(model), mem: mp.mem}
}

// Metric is a metric plugin bound to one parameter set and one model.
type Metric struct {
	sup    *supervised
	params string
	model  *pb.ModelContext
	mem    memory.Allocator
}

func (m *Metric) client(p *process) pb.MetricClient { return pb.NewMetricClient(p.conn.Conn) }

// Init returns the empty state.
func (m *Metric) Init(ctx context.Context) ([]byte, error) {
	var out []byte
	err := m.sup.do(ctx, "init", func(p *process) error {
		st, err := m.client(p).Init(ctx, &pb.MetricRequest{ParamsJson: m.params, Model: m.model})
		if err == nil {
			out = st.Data
		}
		return err
	})
	return out, err
}

// Accumulate folds batch into state; samples (nil when the metric has none) are per-sample rows
// the caller releases.
func (m *Metric) Accumulate(ctx context.Context, state []byte, batch arrow.RecordBatch) (newState []byte, samples arrow.RecordBatch, err error) {
	data, err := arrowio.EncodeIPC(batch, m.mem)
	if err != nil {
		return nil, nil, err
	}
	var resp *pb.AccumulateResponse
	err = m.sup.doSized(ctx, "accumulate", len(data)+len(state), func(p *process) error {
		var err error
		resp, err = m.client(p).Accumulate(ctx, &pb.AccumulateRequest{ParamsJson: m.params, Model: m.model, State: state, Batch: data})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(resp.Samples) > 0 {
		if samples, err = arrowio.DecodeIPC(resp.Samples, m.mem); err != nil {
			return nil, nil, err
		}
	}
	return resp.State, samples, nil
}

// Merge combines states in the order given.
func (m *Metric) Merge(ctx context.Context, states [][]byte) ([]byte, error) {
	var out []byte
	err := m.sup.do(ctx, "merge", func(p *process) error {
		st, err := m.client(p).Merge(ctx, &pb.MergeRequest{ParamsJson: m.params, Model: m.model, States: states})
		if err == nil {
			out = st.Data
		}
		return err
	})
	return out, err
}

// Report turns a state into tidy rows.
func (m *Metric) Report(ctx context.Context, state []byte) ([]sdk.Row, error) {
	var rows []sdk.Row
	err := m.sup.do(ctx, "report", func(p *process) error {
		resp, err := m.client(p).Report(ctx, &pb.ReportRequest{ParamsJson: m.params, Model: m.model, State: state})
		if err != nil {
			return err
		}
		rows = make([]sdk.Row, len(resp.Rows))
		for i, r := range resp.Rows {
			rows[i] = sdk.Row{Metric: r.Metric, Group: r.Group, Value: r.Value, N: r.N}
		}
		return nil
	})
	return rows, err
}
