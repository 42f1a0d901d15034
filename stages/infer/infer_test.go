package infer

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
)

func TestArgmaxSoftmax(t *testing.T) {
	cases := []struct {
		logits []float32
		pred   int32
		conf   float64
	}{
		{[]float32{0, 0}, 0, 0.5},                                           // a tie: the first index wins
		{[]float32{1, 3, 2}, 1, 1 / (1 + math.Exp(-2) + math.Exp(-1))},      // by hand
		{[]float32{-1000, 1000}, 1, 1},                                      // no overflow
		{[]float32{float32(math.Log(0.7)), float32(math.Log(0.3))}, 0, 0.7}, // ln p back to p
	}
	for _, c := range cases {
		pred, conf := ArgmaxSoftmax(c.logits)
		if pred != c.pred || math.Abs(float64(conf)-c.conf) > 1e-6 {
			t.Errorf("ArgmaxSoftmax(%v) = %d, %v; want %d, %v", c.logits, pred, conf, c.pred, c.conf)
		}
		p := make([]float64, len(c.logits))
		Softmax(c.logits, p)
		if math.Abs(p[c.pred]-c.conf) > 1e-6 {
			t.Errorf("Softmax(%v)[%d] = %v, want %v", c.logits, c.pred, p[c.pred], c.conf)
		}
	}
}

// doubler is a runtime whose logits are (2·mean pixel, −2·mean pixel) per image.
type doubler struct{ mem memory.Allocator }

func (d doubler) Infer(_ context.Context, images arrow.RecordBatch) (arrow.RecordBatch, error) {
	img, err := arrowio.TensorColumn(images, arrowio.ColImage)
	if err != nil {
		return nil, err
	}
	var out []float32
	for i := 0; i < img.Len(); i++ {
		var s float32
		for _, v := range img.Row(i) {
			s += v
		}
		m := s / float32(len(img.Row(i)))
		out = append(out, 2*m, -2*m)
	}
	lg, err := arrowio.NewTensorArray(d.mem, []int{2}, out)
	if err != nil {
		return nil, err
	}
	defer lg.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColLogits, Type: lg.DataType()}}, nil), []arrow.Array{lg}, int64(lg.Len())), nil
}

func TestApplyBuildsPredictions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	img, _ := arrowio.NewTensorArray(mem, []int{1, 1, 2}, []float32{0.5, 0.5, 0, 0})
	defer img.Release()
	ids := array.NewStringBuilder(mem)
	ids.AppendValues([]string{"a.png", "b.png"}, nil)
	idArr := ids.NewArray()
	ids.Release()
	defer idArr.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColImage, Type: img.DataType()}}, nil), []arrow.Array{idArr, img}, 2)
	defer rec.Release()
	out, err := (&Stage{Model: "m", Dataset: "d", ClassNames: []string{"cat", "dog"}, Runtime: doubler{mem}, Mem: mem}).Apply(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if _, ok := arrowio.Field(out.Schema(), arrowio.ColImage); ok {
		t.Error("the predictions keep the image column")
	}
	models, _ := arrowio.StringColumn(out, arrowio.ColModel)
	ids2, _ := arrowio.StringColumn(out, arrowio.ColSampleID)
	preds, _ := arrowio.Int32Column(out, arrowio.ColPred)
	conf := out.Column(out.Schema().FieldIndices(arrowio.ColConfidence)[0]).(*array.Float32)
	// Image a: mean 0.5 → logits (1, −1): class 0 with 1/(1+e^−2); image b: mean 0 → a tie: class 0, 0.5.
	if models[0] != "m" || ids2[1] != "b.png" || preds[0] != 0 || preds[1] != 0 ||
		math.Abs(float64(conf.Value(0))-1/(1+math.Exp(-2))) > 1e-6 || conf.Value(1) != 0.5 {
		t.Errorf("predictions %v %v %v %v", models, ids2, preds, conf)
	}
	names, _ := arrowio.StringColumn(out, arrowio.ColPredName)
	datasets, _ := arrowio.StringColumn(out, arrowio.ColDataset)
	if len(names) != 2 || names[0] != "cat" || names[1] != "cat" || datasets[0] != "d" || datasets[1] != "d" {
		t.Errorf("pred_name %v, dataset %v; want cat, cat and d, d", names, datasets)
	}
	var cols []string
	for _, f := range out.Schema().Fields() {
		cols = append(cols, f.Name)
	}
	if want := []string{"sample_id", "model", "dataset", "logits", "pred", "pred_name", "confidence"}; !slices.Equal(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
}

func TestPredNameNullOutsideClassNames(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	lg, _ := arrowio.NewTensorArray(mem, []int{3}, []float32{0, 0, 9, 9, 0, 0})
	defer lg.Release()
	ids := array.NewStringBuilder(mem)
	ids.AppendValues([]string{"a", "b"}, nil)
	idArr := ids.NewArray()
	ids.Release()
	defer idArr.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String}}, nil), []arrow.Array{idArr}, 2)
	defer rec.Release()
	out, err := Predictions(mem, rec, Labels{Model: "m", ClassNames: []string{"x", "y"}}, lg)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	col := out.Column(out.Schema().FieldIndices(arrowio.ColPredName)[0])
	if !col.IsNull(0) || col.IsNull(1) {
		t.Errorf("pred_name nulls %v: want null for class 2 (two names), x for class 0", col)
	}
	if _, ok := arrowio.Field(out.Schema(), arrowio.ColDataset); ok {
		t.Error("a dataset column without a dataset")
	}
}
