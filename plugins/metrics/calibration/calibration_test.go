package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// newBatch builds a predictions batch: labels and k logits per sample, back to back.
func newBatch(t *testing.T, mem memory.Allocator, k int, labels []int32, logits []float32) arrow.RecordBatch {
	t.Helper()
	lb := array.NewInt32Builder(mem)
	defer lb.Release()
	lb.AppendValues(labels, nil)
	la := lb.NewInt32Array()
	defer la.Release()
	ta, err := arrowio.NewTensorArray(mem, []int{k}, logits)
	if err != nil {
		t.Fatal(err)
	}
	defer ta.Release()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: arrowio.ColLogits, Type: ta.DataType()},
	}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{la, ta}, int64(len(labels)))
}

// twoClass returns the logits (ln p, ln(1−p)) of each p.
func twoClass(ps ...float64) []float32 {
	var out []float32
	for _, p := range ps {
		out = append(out, float32(math.Log(p)), float32(math.Log(1-p)))
	}
	return out
}

// The hand example: 2 classes, p(class 0) and label per sample; the last sample is unlabelled.
//
//	sample  p0    y   ŷ  ẑ     correct  −ln p(y)            Σ_k (p_k − 1[k=y])²
//	s1      0.90  0   0  0.90  yes      −ln 0.90 = 0.105361  2·0.10² = 0.02
//	s2      0.90  1   0  0.90  no       −ln 0.10 = 2.302585  2·0.90² = 1.62
//	s3      0.30  1   1  0.70  yes      −ln 0.70 = 0.356675  2·0.30² = 0.18
//	s4      0.55  1   0  0.55  no       −ln 0.45 = 0.798508  2·0.55² = 0.605
//	s5      0.55  0   0  0.55  yes      −ln 0.55 = 0.597837  2·0.45² = 0.405
//	s6      0.50 −1   unlabelled, excluded
//
// N = 5, correct 3: accuracy 0.6; mean confidence (0.9+0.9+0.7+0.55+0.55)/5 = 3.6/5 = 0.72.
// NLL = 4.160965/5 = 0.832193; Brier = 2.83/5 = 0.566.
// Over-confidence = mean ẑ over s2, s4 = (0.9+0.55)/2 = 0.725.
// Under-confidence = mean 1−ẑ over s1, s3, s5 = (0.1+0.3+0.45)/3 = 0.85/3 = 0.283333.
var (
	handLabels = []int32{0, 1, 1, 1, 0, -1}
	handLogits = twoClass(0.9, 0.9, 0.3, 0.55, 0.55, 0.5)
)

// rowIndex keys rows by metric and group.
func rowIndex(rows []sdk.Row) map[string]sdk.Row {
	out := map[string]sdk.Row{}
	for _, r := range rows {
		out[r.Metric+"|"+r.Group] = r
	}
	return out
}

func mustParams(t *testing.T, js string) params.Values {
	t.Helper()
	p, err := params.Parse(calibration{}.Info().Params, js)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run folds batches into one state and reports it.
func run(t *testing.T, p params.Values, batches ...arrow.RecordBatch) (state, []sdk.Row) {
	t.Helper()
	var c calibration
	s, err := c.Init(p, sdk.Model{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if s, err = c.Accumulate(p, sdk.Model{}, s, b); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := c.Report(p, sdk.Model{}, s)
	if err != nil {
		t.Fatal(err)
	}
	return s, rows
}

// want is an expected row value and n; checkRows compares within 1e-6 (float32 logits carry
// the hand-chosen probabilities to about 1e-7).
type want struct {
	v float64
	n int64
}

func checkRows(t *testing.T, rows []sdk.Row, wants map[string]want) {
	t.Helper()
	idx := rowIndex(rows)
	for key, w := range wants {
		r, ok := idx[key]
		if !ok {
			t.Errorf("row %s missing", key)
			continue
		}
		if math.Abs(r.Value-w.v) > 1e-6 || r.N != w.n {
			t.Errorf("row %s = %v (n %d), want %v (n %d)", key, r.Value, r.N, w.v, w.n)
		}
	}
}

func TestHandExample(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := newBatch(t, mem, 2, handLabels, handLogits)
	defer batch.Release()
	// 5 bins (0,.2] (.2,.4] (.4,.6] (.6,.8] (.8,1]:
	//   bin 2: s4, s5  n 2, acc 1/2, conf 0.55, gap 0.05
	//   bin 3: s3      n 1, acc 1,   conf 0.70, gap 0.30
	//   bin 4: s1, s2  n 2, acc 1/2, conf 0.90, gap 0.40
	// ECE = (2·0.05 + 1·0.30 + 2·0.40)/5 = 1.2/5 = 0.24; MCE = 0.40.
	_, rows := run(t, mustParams(t, `{"bins": 5}`), batch)
	checkRows(t, rows, map[string]want{
		"ece|": {0.24, 5}, "mce|": {0.40, 5}, "nll|": {4.160965249563997 / 5, 5}, "brier|": {0.566, 5},
		"overconfidence|": {0.725, 2}, "underconfidence|": {0.85 / 3, 3},
		"accuracy|": {0.6, 5}, "mean_confidence|": {0.72, 5}, "unlabelled|": {1, 1},
		"bin_count|bin=00": {0, 0}, "bin_lower|bin=00": {0, 0}, "bin_upper|bin=00": {0.2, 0},
		"bin_count|bin=01": {0, 0},
		"bin_count|bin=02": {2, 2}, "bin_accuracy|bin=02": {0.5, 2}, "bin_confidence|bin=02": {0.55, 2},
		"bin_lower|bin=02": {0.4, 2}, "bin_upper|bin=02": {0.6, 2},
		"bin_count|bin=03": {1, 1}, "bin_accuracy|bin=03": {1, 1}, "bin_confidence|bin=03": {0.7, 1},
		"bin_count|bin=04": {2, 2}, "bin_accuracy|bin=04": {0.5, 2}, "bin_confidence|bin=04": {0.9, 2},
		"bin_upper|bin=04": {1, 2},
	})
	idx := rowIndex(rows)
	for _, key := range []string{"bin_accuracy|bin=00", "bin_confidence|bin=01"} {
		if r, ok := idx[key]; ok {
			t.Errorf("empty bin reports %s = %v", key, r.Value)
		}
	}
	if got := len(rows); got != 9+3*2+5*3 {
		t.Errorf("%d rows, want 9 summary + 2 empty bins × 3 + 3 bins × 5 = 30", got)
	}
}

func TestBinsParameter(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := newBatch(t, mem, 2, handLabels, handLogits)
	defer batch.Release()
	tests := []struct {
		params string
		wants  map[string]want
	}{
		// One full bin (.5,1]: n 5, correct 3, Σẑ 3.6: ECE = MCE = |3 − 3.6|/5 = 0.12.
		{`{"bins": 2}`, map[string]want{"ece|": {0.12, 5}, "mce|": {0.12, 5},
			"bin_count|bin=00": {0, 0}, "bin_count|bin=01": {5, 5}, "bin_upper|bin=00": {0.5, 0}}},
		// (.5,.75]: s3 s4 s5, correct 2, Σẑ 1.8; (.75,1]: s1 s2, correct 1, Σẑ 1.8.
		// ECE = (|2 − 1.8| + |1 − 1.8|)/5 = 1.0/5 = 0.2; MCE = max(0.2/3, 0.8/2) = 0.4.
		{`{"bins": 4}`, map[string]want{"ece|": {0.2, 5}, "mce|": {0.4, 5},
			"bin_count|bin=02": {3, 3}, "bin_count|bin=03": {2, 2}, "bin_confidence|bin=02": {0.6, 3}}},
		// The default of 15 bins: s1,s2 in (13/15, 14/15], s3 in (10/15, 11/15], s4,s5 in (8/15, 9/15].
		// Same per-bin gaps as with 5 bins: ECE 0.24, MCE 0.4.
		{`{}`, map[string]want{"ece|": {0.24, 5}, "mce|": {0.4, 5},
			"bin_count|bin=13": {2, 2}, "bin_count|bin=10": {1, 1}, "bin_count|bin=08": {2, 2}, "bin_count|bin=14": {0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.params, func(t *testing.T) {
			_, rows := run(t, mustParams(t, tt.params), batch)
			checkRows(t, rows, tt.wants)
		})
	}
	if _, err := params.Parse(calibration{}.Info().Params, `{"bins": 1e8}`); err == nil || !strings.Contains(err.Error(), "above the maximum 10000") {
		t.Errorf("bins 1e8: %v, want the declared maximum", err)
	}
	if _, err := params.Parse(calibration{}.Info().Params, `{"bins": 1}`); err == nil || !strings.Contains(err.Error(), "below the minimum 2") {
		t.Errorf("bins = 1: error = %v, want the minimum of 2", err)
	}
}

func TestBinOf(t *testing.T) {
	tests := []struct {
		z    float64
		nb   int
		want int
	}{
		{0, 5, 0}, {0.2, 5, 0}, {0.2000001, 5, 1}, {0.55, 5, 2},
		{0.6, 5, 2}, // 0.6·5 rounds to 3.0000000000000004: the edge test puts it back in (0.4, 0.6]
		{0.6000001, 5, 3}, {1, 5, 4},
		{0.7, 10, 6}, // 0.7·10 = 7.000000000000001, yet 0.7 is the upper edge of bin 6
		{1.0 / 3, 3, 0}, {0.5, 2, 0}, {0.5000001, 2, 1},
	}
	for _, tt := range tests {
		if got := binOf(tt.z, tt.nb); got != tt.want {
			t.Errorf("binOf(%v, %d) = %d, want %d", tt.z, tt.nb, got, tt.want)
		}
	}
}

func TestScoreEdges(t *testing.T) {
	ninf := float32(math.Inf(-1))
	tests := []struct {
		name             string
		logits           []float32
		y                int
		pred             int
		conf, doubt, nll float64
		brier            float64
	}{
		// p(y) = 0 from a -Inf logit: NLL clamps at −ln 1e-12; Brier (1−0)² + (0−1)² = 2.
		{"zero probability", []float32{0, ninf}, 1, 0, 1, 0, -math.Log(1e-12), 2},
		// 1 − ẑ = e^−40/(1+e^−40) ≈ 4.2484e-18, which 1 − 1/(1+e^−40) would round to 0.
		{"near-certain", []float32{40, 0}, 0, 0, 1, math.Exp(-40) / (1 + math.Exp(-40)), math.Log1p(math.Exp(-40)), 2 * math.Pow(math.Exp(-40)/(1+math.Exp(-40)), 2)},
		// Three equal logits: ẑ = 1/3, the first index wins; −ln(1/3); Brier (2/3)² + 2·(1/3)² = 2/3.
		{"tie", []float32{1, 1, 1}, 2, 0, 1.0 / 3, 2.0 / 3, math.Log(3), 2.0 / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := score(tt.logits, tt.y, make([]float64, len(tt.logits)))
			if err != nil {
				t.Fatal(err)
			}
			close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(math.Abs(b), 1e-300) }
			if s.pred != tt.pred || !close(s.conf, tt.conf) || !close(s.doubt, tt.doubt) || !close(s.nll, tt.nll) || !close(s.brier, tt.brier) {
				t.Fatalf("score = %+v, want pred %d conf %v doubt %v nll %v brier %v", s, tt.pred, tt.conf, tt.doubt, tt.nll, tt.brier)
			}
		})
	}
}

func TestAccumulateErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tests := []struct {
		name    string
		labels  []int32
		logits  []float32
		wantErr string
	}{
		{"NaN logit", []int32{0}, []float32{0, float32(math.NaN())}, "sample 0: the model's output is not finite: logit 1 is NaN"},
		{"+Inf logit", []int32{0}, []float32{float32(math.Inf(1)), 0}, "logit 0 is +Inf"},
		{"all -Inf", []int32{0}, []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, "every logit is -Inf"},
		{"NaN in an unlabelled row", []int32{0, -1}, []float32{0, 1, float32(math.NaN()), 0}, "sample 1: the model's output is not finite: logit 0 is NaN"},
		{"label beyond the model", []int32{0, 2}, []float32{0, 1, 0, 1}, "sample 1 has label 2 but the model has 2 classes"},
	}
	p := mustParams(t, `{}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch := newBatch(t, mem, 2, tt.labels, tt.logits)
			defer batch.Release()
			s, _ := calibration{}.Init(p, sdk.Model{})
			if _, err := (calibration{}).Accumulate(p, sdk.Model{}, s, batch); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	a, _ := calibration{}.Init(mustParams(t, `{"bins": 4}`), sdk.Model{})
	b, _ := calibration{}.Init(mustParams(t, `{"bins": 5}`), sdk.Model{})
	if _, err := (calibration{}).Merge(p, sdk.Model{}, a, b); err == nil || !strings.Contains(err.Error(), "4 and 5 bins") {
		t.Fatalf("merging 4 and 5 bins: error = %v", err)
	}
}

// randomBatches draws n samples of 10 classes with logits scaled so that confidences cover [0.1, 1],
// labels mostly the arg-max, one in 50 unlabelled, cut into batches at the given offsets.
func randomBatches(t *testing.T, mem memory.Allocator, n int, cuts ...int) []arrow.RecordBatch {
	r := rand.New(rand.NewPCG(3, 4))
	const k = 10
	labels := make([]int32, n)
	logits := make([]float32, n*k)
	for i := range labels {
		scale := 4 * r.Float64()
		for c := range k {
			logits[i*k+c] = float32(scale * r.NormFloat64())
		}
		labels[i] = int32(r.IntN(k))
		if r.IntN(2) == 0 {
			labels[i] = int32(argmax(logits[i*k : (i+1)*k]))
		}
		if r.IntN(50) == 0 {
			labels[i] = -1
		}
	}
	var out []arrow.RecordBatch
	prev := 0
	for _, c := range append(cuts, n) {
		out = append(out, newBatch(t, mem, k, labels[prev:c], logits[prev*k:c*k]))
		prev = c
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestMergeEqualsOnePass: 20,000 samples in one pass against three shard states merged through
// JSON (as across processes): counts equal exactly, sums within 1e-15 relative.
func TestMergeEqualsOnePass(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batches := randomBatches(t, mem, 20000, 7000, 13001)
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	p := mustParams(t, `{}`)
	one, _ := run(t, p, batches...)
	var c calibration
	merged, _ := c.Init(p, sdk.Model{})
	for _, b := range batches {
		part, _ := run(t, p, b)
		js, err := json.Marshal(part)
		if err != nil {
			t.Fatal(err)
		}
		var back state
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		if merged, err = c.Merge(p, sdk.Model{}, merged, back); err != nil {
			t.Fatal(err)
		}
	}
	if one.N+one.Unlabelled != 20000 || one.Unlabelled == 0 || one.Correct == 0 || one.Correct == one.N {
		t.Fatalf("one pass: n %d, unlabelled %d, correct %d: want a mix", one.N, one.Unlabelled, one.Correct)
	}
	if merged.N != one.N || merged.Correct != one.Correct || merged.Unlabelled != one.Unlabelled {
		t.Fatalf("merged counts n %d correct %d unlabelled %d, one pass %d %d %d",
			merged.N, merged.Correct, merged.Unlabelled, one.N, one.Correct, one.Unlabelled)
	}
	worst := 0.0
	check := func(name string, a, b sum) {
		rel := math.Abs(a.value()-b.value()) / math.Abs(b.value())
		worst = max(worst, rel)
		if rel > 1e-15 {
			t.Errorf("%s: merged %v, one pass %v (relative %g)", name, a.value(), b.value(), rel)
		}
	}
	filled := 0
	for i := range one.Bins {
		mb, ob := merged.Bins[i], one.Bins[i]
		if mb.Count != ob.Count || mb.Correct != ob.Correct {
			t.Fatalf("bin %d: merged count %d correct %d, one pass %d %d", i, mb.Count, mb.Correct, ob.Count, ob.Correct)
		}
		if ob.Count > 0 {
			filled++
			check("bin confidence", mb.Confidence, ob.Confidence)
		}
	}
	if filled < 12 {
		t.Fatalf("only %d of 15 bins hold samples", filled)
	}
	check("nll", merged.NLL, one.NLL)
	check("brier", merged.Brier, one.Brier)
	check("overconfidence", merged.Overconf, one.Overconf)
	check("underconfidence", merged.Underconf, one.Underconf)
	t.Logf("n %d, correct %d, %d bins filled; worst relative difference of a merged sum: %g", one.N, one.Correct, filled, worst)
}
