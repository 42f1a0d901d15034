package host

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/vistudy/vistudy/plugins/params"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// The host's side of the wire: the go-plugin client set and the conversions of what the host
// sends (load specs, model contexts, overrides) and reads (plugin infos). Plugin authors never see
// these; the SDK holds the plugin's side.

// conn is what the host gets when it dispenses a plugin: the connection and the broker.
type conn struct {
	Conn   *grpc.ClientConn
	Broker *plugin.GRPCBroker
}

// clientPlugin is go-plugin's plugin on the host's side: it only dials.
type clientPlugin struct{ plugin.NetRPCUnsupportedPlugin }

// GRPCServer implements plugin.GRPCPlugin; the host serves no plugin.
func (clientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return fmt.Errorf("plugins: the host does not serve plugins")
}

// GRPCClient implements plugin.GRPCPlugin.
func (clientPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &conn{Conn: c, Broker: b}, nil
}

// clientPlugins is the plugin set the host dispenses from.
func clientPlugins() plugin.PluginSet {
	return plugin.PluginSet{
		string(sdk.KindRuntime):      clientPlugin{},
		string(sdk.KindPerturbation): clientPlugin{},
		string(sdk.KindMetric):       clientPlugin{},
	}
}

// infoFromProto converts a wire info back, checking its parameter specs.
func infoFromProto(p *pb.PluginInfo) (sdk.Info, error) {
	i := sdk.Info{Name: p.Name, Version: p.Version, Description: p.Description, NeedsModel: p.NeedsModel,
		Requires: p.Requires, PrimaryParam: p.PrimaryParam, NeedsGradient: p.NeedsGradient}
	i.Metrics = sdk.MetricsFromProto(p.Metrics)
	for _, f := range p.Figures {
		i.Figures = append(i.Figures, sdk.Figure{Kind: f.Kind, Metric: f.Metric, Label: f.Label})
	}
	for _, q := range p.Params {
		s, err := params.FromProto(q)
		if err != nil {
			return i, fmt.Errorf("plugin %s: %w", p.Name, err)
		}
		i.Params = append(i.Params, s)
	}
	return i, nil
}

// modelProto is the wire form of a model context.
func modelProto(m sdk.Model) *pb.ModelContext {
	return &pb.ModelContext{Name: m.Name, NumClasses: int32(m.NumClasses), LabelSpace: m.LabelSpace,
		ClassNames: m.ClassNames, DatasetClasses: m.DatasetClasses, DatasetToModel: m.DatasetToModel}
}

// loadProto is the wire form of a load spec.
func loadProto(l sdk.LoadSpec) *pb.LoadRequest {
	in := l.Input
	return &pb.LoadRequest{Path: l.Path, Name: l.Name, Output: l.Output, OutputTensor: l.OutputTensor,
		Input: &pb.InputMapping{Channels: in.Channels, Scale: in.Scale, Mean: in.Mean, Std: in.Std,
			Height: int32(in.Height), Width: int32(in.Width)},
		IntraThreads: int32(l.IntraThreads), InterThreads: int32(l.InterThreads), Providers: l.Providers,
		ProviderFallback: l.ProviderFallback, Overridable: l.Overridable, ProviderOptions: l.ProviderOptions,
		DeviceId: int32(l.DeviceID), Streams: int32(l.Streams), Padding: l.Padding, Chunk: int32(l.Chunk)}
}

// overridesProto is the wire form of overrides (float32 little-endian values).
func overridesProto(ovs []sdk.Override) []*pb.Override {
	out := make([]*pb.Override, len(ovs))
	for i, o := range ovs {
		b := make([]byte, 4*len(o.Values))
		for j, v := range o.Values {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
		}
		out[i] = &pb.Override{Name: o.Name, Dims: o.Dims, Values: b}
	}
	return out
}
