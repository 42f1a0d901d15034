package sdk

import (
	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	pb "github.com/vistudy/vistudy/plugins/proto"
)

// Info is what a plugin declares about itself.
type Info struct {
	Name        string
	Version     string
	Description string
	Params      []params.Spec
	NeedsModel  bool // perturbations: receives a model oracle, runs once per model
	// NeedsGradient: a perturbation that asks the oracle for gradients; validate checks that every
	// attacked model has a gradient graph.
	NeedsGradient bool
	Requires      []string     // columns a batch must carry
	PrimaryParam  string       // perturbations: the parameter recorded in the `param` column
	Figures       []Figure     // the figures the report draws from a stage's rows; none: a generic one
	Metrics       []MetricInfo // what each metric the plugin reports means (the run's metrics.parquet)
}

// MetricInfo declares one metric: unit, range, direction, meaning, whether it is a headline number.
type MetricInfo = arrowio.MetricInfo

// The directions of MetricInfo.Better.
const (
	Higher = arrowio.Higher // a higher value is better
	Lower  = arrowio.Lower  // a lower value is better
)

// The generic figure kinds of the report (docs/plugins.md, "Declaring a figure").
const (
	FigureBars        = "bars"        // per metric, one bar per model and group
	FigureSweep       = "sweep"       // the metric against the stage's single numeric group key, one line per model
	FigureReliability = "reliability" // reliability diagrams from bin_accuracy, bin_confidence, bin_count rows by bin=<i>
	FigureHeatmap     = "heatmap"     // one-key groups × models, or per model the two keys of its groups
	FigureNone        = "none"        // no figure: the stage's values are in the summary table only
)

// Figure asks the report for one figure of a registered kind over a stage's rows.
type Figure struct {
	Kind   string `json:"kind"`             // a registered figure kind: one of the Figure* constants or a specialised one
	Metric string `json:"metric,omitempty"` // the metric it draws; "" for every metric the kind can draw
	Label  string `json:"label,omitempty"`  // how titles and axes name the metric (e.g. "top-1 accuracy"); "" for the metric's name
}

// ToProto converts the info to its wire form.
func (i Info) ToProto(kind Kind) *pb.PluginInfo {
	ps := make([]*pb.Param, len(i.Params))
	for k, p := range i.Params {
		ps[k] = p.ToProto()
	}
	return &pb.PluginInfo{Name: i.Name, Kind: string(kind), Version: i.Version, Description: i.Description,
		Params: ps, SchemaVersion: arrowio.SchemaVersion, NeedsModel: i.NeedsModel, Requires: i.Requires,
		PrimaryParam: i.PrimaryParam, Figures: figuresToProto(i.Figures), NeedsGradient: i.NeedsGradient,
		Metrics: MetricsToProto(i.Metrics)}
}

// MetricsToProto converts metric declarations to their wire form.
func MetricsToProto(ms []MetricInfo) []*pb.MetricInfo {
	var out []*pb.MetricInfo
	for _, m := range ms {
		out = append(out, &pb.MetricInfo{Name: m.Name, Unit: m.Unit, Min: m.Min, Max: m.Max, Better: m.Better,
			Meaning: m.Meaning, Headline: m.Headline, Label: m.Label, Diagnostic: m.Diagnostic})
	}
	return out
}

// MetricsFromProto converts wire metric declarations back.
func MetricsFromProto(ps []*pb.MetricInfo) []MetricInfo {
	var out []MetricInfo
	for _, m := range ps {
		out = append(out, MetricInfo{Name: m.Name, Unit: m.Unit, Min: m.Min, Max: m.Max, Better: m.Better,
			Meaning: m.Meaning, Headline: m.Headline, Label: m.Label, Diagnostic: m.Diagnostic})
	}
	return out
}

func figuresToProto(fs []Figure) []*pb.Figure {
	var out []*pb.Figure
	for _, f := range fs {
		out = append(out, &pb.Figure{Kind: f.Kind, Metric: f.Metric, Label: f.Label})
	}
	return out
}

// Model is the model a batch came from or goes to.
type Model struct {
	Name           string
	NumClasses     int
	LabelSpace     string
	ClassNames     []string // the model's output classes
	DatasetClasses []string // the dataset's label names, by label index
	// DatasetToModel is the model output each dataset class maps onto (empty: the dataset's
	// labels are the model's); the labels of predictions batches are already the model's.
	DatasetToModel []int32
}

// ModelFromProto converts a wire model context.
func ModelFromProto(p *pb.ModelContext) Model {
	if p == nil {
		return Model{}
	}
	return Model{Name: p.Name, NumClasses: int(p.NumClasses), LabelSpace: p.LabelSpace,
		ClassNames: p.ClassNames, DatasetClasses: p.DatasetClasses, DatasetToModel: p.DatasetToModel}
}
