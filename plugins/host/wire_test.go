package host

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vistudy/vistudy/plugins/params"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// TestInfoRoundTrip: an Info survives its wire form, marshalled as the host receives it, figures included.
func TestInfoRoundTrip(t *testing.T) {
	for _, in := range []sdk.Info{
		{Name: "bare", Version: "0.1.0"},
		{Name: "labelshare", Version: "1.2.3", Description: "share of samples per label", Requires: []string{"label"},
			Params:  []params.Spec{{Name: "k", Type: params.Int, Default: 3, Description: "k"}},
			Figures: []sdk.Figure{{Kind: sdk.FigureBars, Metric: "share", Label: "share of samples"}, {Kind: "shapebias"}}},
		{Name: "randsol", NeedsModel: true, PrimaryParam: "iterations", Figures: []sdk.Figure{{Kind: sdk.FigureNone}}},
		{Name: "pgd", NeedsModel: true, NeedsGradient: true, PrimaryParam: "eps"},
	} {
		wire, err := proto.Marshal(in.ToProto(sdk.KindMetric))
		if err != nil {
			t.Fatal(err)
		}
		var p pb.PluginInfo
		if err := proto.Unmarshal(wire, &p); err != nil {
			t.Fatal(err)
		}
		out, err := infoFromProto(&p)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Params) != len(in.Params) {
			t.Errorf("%s: %d params back, want %d", in.Name, len(out.Params), len(in.Params))
		}
		out.Params, in.Params = nil, nil // params.FromProto has its own tests (a default comes back as JSON's type)
		if !reflect.DeepEqual(out, in) {
			t.Errorf("round trip of %s:\ngot  %+v\nwant %+v", in.Name, out, in)
		}
	}
}
