package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// paramBins names the parameter giving the number of confidence bins.
const paramBins = "bins"

// maxBins bounds the bins parameter: the state holds a bin per bin and the report five rows per
// bin, so 10,000 bins are about 0.5 MB of state and 50,000 rows, and bins: 1e8 is refused.
const maxBins = 10000

// probFloor is where p(y) is clamped in the NLL, so one zero probability (a model that outputs
// probabilities) caps that sample's loss at −ln 1e-12 ≈ 27.63 instead of making the mean infinite.
const probFloor = 1e-12

// calibration is confidence calibration and over-/under-confidence (Grabinski et al. 2022).
type calibration struct{}

// bin accumulates the samples whose confidence falls in one bin.
type bin struct {
	Count      int64 `json:"count"`
	Correct    int64 `json:"correct"`
	Confidence sum   `json:"confidence"` // Σ ẑ
}

// state holds counts and compensated sums, never averages, so shards merge to the one-pass state.
type state struct {
	Bins       []bin `json:"bins"`
	N          int64 `json:"n"`          // labelled samples
	Correct    int64 `json:"correct"`    // ŷ = y; the wrong count is N − Correct
	Unlabelled int64 `json:"unlabelled"` // label < 0, excluded
	NLL        sum   `json:"nll"`        // Σ −ln max(p(y), 1e-12)
	Brier      sum   `json:"brier"`      // Σ Σ_k (p_k − 1[k=y])²
	Overconf   sum   `json:"overconf"`   // Σ ẑ over ŷ ≠ y
	Underconf  sum   `json:"underconf"`  // Σ (1 − ẑ) over ŷ = y
}

func (calibration) Info() sdk.Info {
	return sdk.Info{
		Name: "calibration", Version: "0.1.0",
		Description: "confidence calibration (Grabinski et al. 2022): ECE and MCE over equal-width confidence bins, " +
			"NLL, multi-class Brier score, over-confidence E[ẑ | ŷ≠y], under-confidence E[1−ẑ | ŷ=y] and the reliability diagram",
		Params: []params.Spec{{Name: paramBins, Type: params.Int, Default: 15, Min: params.Bound(2), Max: params.Bound(maxBins),
			Description: "number of equal-width confidence bins on [0,1]; bin b holds confidences in (b/B, (b+1)/B]"}},
		Requires: []string{arrowio.ColLabel, arrowio.ColLogits},
		Metrics: []sdk.MetricInfo{
			{Name: "ece", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Lower, Headline: true, Label: "ECE",
				Meaning: "expected calibration error: Σ_b n_b/N · |accuracy_b − confidence_b| over equal-width confidence bins"},
			{Name: "mce", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Lower, Meaning: "maximum calibration error: the largest |accuracy_b − confidence_b| over non-empty bins"},
			{Name: "nll", Unit: "nats", Min: 0, Max: 0, Better: sdk.Lower, Meaning: "mean negative log-likelihood of the label, −ln max(p(y), 1e-12)"},
			{Name: "brier", Unit: "score", Min: 0, Max: 2, Better: sdk.Lower, Meaning: "mean Brier score Σ_k (p_k − 1[k=y])²"},
			{Name: "overconfidence", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Lower, Headline: true, Label: "over-confidence",
				Meaning: "mean confidence on the wrongly classified samples"},
			{Name: "underconfidence", Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "mean 1 − confidence on the correctly classified samples"},
			{Name: "accuracy", Unit: "fraction", Min: 0, Max: 1, Better: sdk.Higher, Meaning: "top-1 accuracy of the calibrated samples"},
			{Name: "mean_confidence", Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "mean max-softmax confidence"},
			{Name: "unlabelled", Diagnostic: true, Unit: "count", Meaning: "samples without a label (left out)"},
			{Name: "bin_count", Diagnostic: true, Unit: "count", Meaning: "samples whose confidence falls in the bin"},
			{Name: "bin_accuracy", Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "accuracy of the bin's samples"},
			{Name: "bin_confidence", Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "mean confidence of the bin's samples"},
			{Name: "bin_lower", Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "the bin's lower confidence edge"},
			{Name: "bin_upper", Diagnostic: true, Unit: "fraction", Min: 0, Max: 1, Meaning: "the bin's upper confidence edge"},
		},
		Figures: []sdk.Figure{{Kind: sdk.FigureReliability}},
	}
}

func (calibration) Init(p params.Values, _ sdk.Model) (state, error) {
	return state{Bins: make([]bin, p.Int(paramBins))}, nil
}

// binOf is the bin of confidence z among nb: (b/nb, (b+1)/nb], with z = 0 in bin 0. The edges are
// the float64 values b/nb that Report shows, so a confidence on an edge lands where the rows say.
func binOf(z float64, nb int) int {
	b := min(max(int(math.Ceil(z*float64(nb)))-1, 0), nb-1)
	for b > 0 && z <= float64(b)/float64(nb) {
		b--
	}
	for b < nb-1 && z > float64(b+1)/float64(nb) {
		b++
	}
	return b
}

// scored is one sample's prediction and losses.
type scored struct {
	pred  int
	conf  float64 // ẑ, the max softmax probability
	doubt float64 // 1 − ẑ, summed from the other classes so it keeps its digits when ẑ ≈ 1
	nll   float64
	brier float64
}

// score computes the float64 softmax of logits against label y; e is scratch of the row's length.
func score(logits []float32, y int, e []float64) (scored, error) {
	if err := sdk.CheckLogits(logits); err != nil {
		return scored{}, err
	}
	top, pred := math.Inf(-1), -1
	for k, v := range logits {
		if x := float64(v); pred < 0 || x > top {
			top, pred = x, k
		}
	}
	var others float64 // Σ_{k≠ŷ} e^{l_k − top}; the softmax denominator is 1 + others
	for k, v := range logits {
		e[k] = math.Exp(float64(v) - top)
		if k != pred {
			others += e[k]
		}
	}
	z := 1 + others
	s := scored{pred: pred, conf: 1 / z, doubt: others / z}
	// −ln p(y) = ln z − (l_y − top), with ln z by log1p so that it keeps its digits when z ≈ 1.
	s.nll = min(math.Log1p(others)-(float64(logits[y])-top), -math.Log(probFloor))
	for k := range logits {
		d := e[k] / z
		switch {
		case k == y && k == pred:
			d = -s.doubt // p_y − 1 without the cancellation when p_y ≈ 1
		case k == y:
			d--
		}
		s.brier += d * d
	}
	return s, nil
}

func (calibration) Accumulate(p params.Values, _ sdk.Model, s state, batch arrow.RecordBatch) (state, error) {
	if nb := p.Int(paramBins); len(s.Bins) != nb {
		return s, fmt.Errorf("state has %d bins, the parameters say %d", len(s.Bins), nb)
	}
	labels, err := arrowio.Int32Column(batch, arrowio.ColLabel)
	if err != nil {
		return s, err
	}
	logits, err := arrowio.TensorColumn(batch, arrowio.ColLogits)
	if err != nil {
		return s, err
	}
	if k := logits.Shape(); len(k) != 1 {
		return s, fmt.Errorf("column %q has tensor shape %v, want [K]", arrowio.ColLogits, k)
	}
	e := make([]float64, logits.Shape()[0])
	for i, y := range labels {
		if err := sdk.CheckLogits(logits.Row(i)); err != nil {
			return s, fmt.Errorf("%s: %w", sdk.SampleName(batch, i), err)
		}
		if y < 0 {
			s.Unlabelled++
			continue
		}
		if int(y) >= len(e) {
			return s, fmt.Errorf("sample %d has label %d but the model has %d classes: the dataset's label space does not match the model's", i, y, len(e))
		}
		sc, err := score(logits.Row(i), int(y), e)
		if err != nil {
			return s, fmt.Errorf("%s: %w", sdk.SampleName(batch, i), err)
		}
		b := &s.Bins[binOf(sc.conf, len(s.Bins))]
		b.Count++
		b.Confidence.add(sc.conf)
		s.N++
		if sc.pred == int(y) {
			b.Correct++
			s.Correct++
			s.Underconf.add(sc.doubt)
		} else {
			s.Overconf.add(sc.conf)
		}
		s.NLL.add(sc.nll)
		s.Brier.add(sc.brier)
	}
	return s, nil
}

func (calibration) Merge(_ params.Values, _ sdk.Model, a, b state) (state, error) {
	if len(a.Bins) != len(b.Bins) {
		return a, fmt.Errorf("states have %d and %d bins", len(a.Bins), len(b.Bins))
	}
	for i, bb := range b.Bins {
		ab := &a.Bins[i]
		ab.Count += bb.Count
		ab.Correct += bb.Correct
		ab.Confidence.merge(bb.Confidence)
	}
	a.N += b.N
	a.Correct += b.Correct
	a.Unlabelled += b.Unlabelled
	a.NLL.merge(b.NLL)
	a.Brier.merge(b.Brier)
	a.Overconf.merge(b.Overconf)
	a.Underconf.merge(b.Underconf)
	return a, nil
}

// binGroup labels bin b as bin=07: zero-padded to two digits, or more when there are over 100 bins.
func binGroup(b, nb int) string {
	width := max(2, len(strconv.Itoa(nb-1)))
	return fmt.Sprintf("bin=%0*d", width, b)
}

func (calibration) Report(_ params.Values, _ sdk.Model, s state) ([]sdk.Row, error) {
	var rows []sdk.Row
	add := func(metric, group string, v float64, n int64) {
		rows = append(rows, sdk.Row{Metric: metric, Group: group, Value: v, N: n})
	}
	if s.N > 0 {
		n := float64(s.N)
		var gaps, mce float64
		var conf sum
		for _, b := range s.Bins {
			if b.Count == 0 {
				continue
			}
			// n_b/N · |acc_b − conf_b| = |correct_b − Σẑ_b| / N
			gap := math.Abs(float64(b.Correct) - b.Confidence.value())
			gaps += gap
			mce = max(mce, gap/float64(b.Count))
			conf.merge(b.Confidence)
		}
		add("ece", "", gaps/n, s.N)
		add("mce", "", mce, s.N)
		add("nll", "", s.NLL.value()/n, s.N)
		add("brier", "", s.Brier.value()/n, s.N)
		if wrong := s.N - s.Correct; wrong > 0 {
			add("overconfidence", "", s.Overconf.value()/float64(wrong), wrong)
		}
		if s.Correct > 0 {
			add("underconfidence", "", s.Underconf.value()/float64(s.Correct), s.Correct)
		}
		add("accuracy", "", float64(s.Correct)/n, s.N)
		add("mean_confidence", "", conf.value()/n, s.N)
	}
	if s.Unlabelled > 0 {
		add("unlabelled", "", float64(s.Unlabelled), s.Unlabelled)
	}
	nb := len(s.Bins)
	for i, b := range s.Bins {
		g := binGroup(i, nb)
		add("bin_count", g, float64(b.Count), b.Count)
		if b.Count > 0 {
			add("bin_accuracy", g, float64(b.Correct)/float64(b.Count), b.Count)
			add("bin_confidence", g, b.Confidence.value()/float64(b.Count), b.Count)
		}
		add("bin_lower", g, float64(i)/float64(nb), b.Count)
		add("bin_upper", g, float64(i+1)/float64(nb), b.Count)
	}
	return rows, nil
}
