package perturb

import (
	"context"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
)

// inverter is a perturbation plugin answering 1 − x, recording what it was called with.
type inverter struct {
	mem    memory.Allocator
	params string
	seed   uint64
}

func (v *inverter) Apply(_ context.Context, paramsJSON string, batch arrow.RecordBatch, seed uint64) (arrow.RecordBatch, error) {
	v.params, v.seed = paramsJSON, seed
	img, err := arrowio.TensorColumn(batch, arrowio.ColImage)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(img.Values()))
	for i, x := range img.Values() {
		out[i] = 1 - x
	}
	return arrowio.SetImages(batch, out, v.mem)
}

func TestProvenanceColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	img, _ := arrowio.NewTensorArray(mem, []int{2}, []float32{0.25, 1, 0, 0.5})
	defer img.Release()
	empty := emptyBatch(mem, 2)
	defer empty.Release()
	rec, err := arrowio.SetColumn(empty, arrow.Field{Name: arrowio.ColImage, Type: img.DataType()}, img)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	p, _ := params.Check([]params.Spec{{Name: "threshold", Type: params.Float}}, map[string]any{"threshold": 0.3})
	plugin := &inverter{mem: mem}
	for _, primary := range []string{"threshold", ""} {
		out, err := (&Stage{Name: "invert", Params: p, Primary: primary, Plugin: plugin, Mem: mem}).Apply(context.Background(), rec, 42)
		if err != nil {
			t.Fatal(err)
		}
		names, _ := arrowio.StringColumn(out, arrowio.ColPerturbation)
		param := out.Column(out.Schema().FieldIndices(arrowio.ColParam)[0]).(interface{ Value(int) float64 })
		got, _ := arrowio.TensorColumn(out, arrowio.ColImage)
		if names[1] != "invert" || got.Values()[0] != 0.75 || plugin.params != `{"threshold":0.3}` || plugin.seed != 42 {
			t.Errorf("primary %q: %v %v %s %d", primary, names, got.Values(), plugin.params, plugin.seed)
		}
		if want := 0.3; primary != "" && param.Value(0) != want || primary == "" && !math.IsNaN(param.Value(0)) {
			t.Errorf("primary %q: param column %v", primary, param.Value(0))
		}
		out.Release()
	}
}

// emptyBatch is a batch of n rows and no columns.
func emptyBatch(_ memory.Allocator, n int) arrow.RecordBatch {
	return array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, int64(n))
}
