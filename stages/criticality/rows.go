package criticality

import (
	"fmt"
	"math"
	"strings"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// Metric names of the rows.
const (
	MetricCriticality      = "criticality"                  // (1 − mean cosine)·100, per layer; mean over layers per model
	MetricCriticalityMax   = "criticality_max"              // per model: the most critical layer's criticality
	MetricLayers           = "layers"                       // per model: layers reset
	MetricCosine           = "cosine"                       // mean cosine similarity of the softmax outputs
	MetricL1               = "l1"                           // mean L1 distance of the softmax outputs
	MetricL2               = "l2"                           // mean L2 distance of the softmax outputs
	MetricTop1Reset        = "top1_reset"                   // top-1 accuracy with the layer reset, mean over trials
	MetricTop5Reset        = "top5_reset"                   // top-5 accuracy with the layer reset, mean over trials
	MetricTop1Original     = "top1_original"                // top-1 accuracy of the trained model
	MetricTop5Original     = "top5_original"                // top-5 accuracy of the trained model
	MetricRecovered        = "recovered_accuracy"           // top1_reset / top1_original
	MetricRecoveredUndef   = "recovered_accuracy_undefined" // 1 where the trained top-1 is 0 or unknown
	MetricNonFinite        = "nonfinite_outputs"            // samples × trials with a non-finite reset output, left out
	MetricCriticalityUndef = "criticality_undefined"        // 1 where no reset output was finite
)

// groupEscaper replaces the characters that structure a group inside a layer name.
var groupEscaper = strings.NewReplacer(",", "_", "=", "_")

// LayerGroup is the result group of a layer: layer=<name>,op=<OpType>,index=<depth>,depth=<relative
// depth %.4f>, with ',' and '=' in the name replaced by '_'.
func LayerGroup(l onnx.Layer) string {
	return fmt.Sprintf("layer=%s,op=%s,index=%d,depth=%.4f", groupEscaper.Replace(l.Name), l.OpType, l.Depth, l.RelDepth)
}

// Rows are the tidy rows of the layer (Model and Stage empty: the caller fills them). Means over
// samples × trials carry that count as N; accuracies carry labelled samples × trials. Undefined
// values are left out: recovered_accuracy gives way to recovered_accuracy_undefined = 1, and
// without a finite reset output the means give way to criticality_undefined = 1.
func (r *LayerResult) Rows() []arrowio.Result {
	g := LayerGroup(r.Layer)
	var out []arrowio.Result
	add := func(metric string, v float64, n int) {
		if !math.IsNaN(v) {
			out = append(out, arrowio.Result{Metric: metric, Group: g, Value: v, N: int64(n)})
		}
	}
	if r.Compared > 0 {
		add(MetricCriticality, r.Criticality, r.Compared)
		add(MetricCosine, r.Cosine, r.Compared)
		add(MetricL1, r.L1, r.Compared)
		add(MetricL2, r.L2, r.Compared)
	} else {
		add(MetricCriticalityUndef, 1, r.Samples*r.Trials)
	}
	if r.NonFinite > 0 {
		add(MetricNonFinite, float64(r.NonFinite), r.Samples*r.Trials)
	}
	add(MetricTop1Reset, r.Top1Reset, r.Labelled*r.Trials)
	add(MetricTop5Reset, r.Top5Reset, r.Labelled*r.Trials)
	add(MetricTop1Original, r.Top1Original, r.Labelled)
	add(MetricTop5Original, r.Top5Original, r.Labelled)
	if math.IsNaN(r.Recovered) {
		add(MetricRecoveredUndef, 1, r.Labelled*r.Trials)
	} else {
		add(MetricRecovered, r.Recovered, r.Labelled*r.Trials)
	}
	return out
}

// ModelRows summarises layer rows per model (group ""): criticality = mean over the layers,
// criticality_max and layers (the count); Model and Stage are taken from the rows.
func ModelRows(layerRows []arrowio.Result) []arrowio.Result {
	type acc struct {
		stage    string
		sum, max float64
		n        int
	}
	per := map[string]*acc{}
	var order []string
	for _, r := range layerRows {
		if r.Metric != MetricCriticality || r.Group == "" {
			continue
		}
		a := per[r.Model]
		if a == nil {
			a = &acc{stage: r.Stage, max: math.Inf(-1)}
			per[r.Model] = a
			order = append(order, r.Model)
		}
		a.sum += r.Value
		a.max = math.Max(a.max, r.Value)
		a.n++
	}
	var out []arrowio.Result
	for _, m := range order {
		a := per[m]
		out = append(out,
			arrowio.Result{Model: m, Stage: a.stage, Metric: MetricCriticality, Value: a.sum / float64(a.n), N: int64(a.n)},
			arrowio.Result{Model: m, Stage: a.stage, Metric: MetricCriticalityMax, Value: a.max, N: int64(a.n)},
			arrowio.Result{Model: m, Stage: a.stage, Metric: MetricLayers, Value: float64(a.n), N: int64(a.n)})
	}
	return out
}
