package criticality

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// Geometry of the tiny models.
const (
	side    = 8
	filters = 4
	classes = 5
)

// tiny is a known model: Conv 3×3 (same padding) → [BatchNormalization] → Relu →
// GlobalAveragePool → Flatten → Gemm (transB = 1), with weights fixed by a formula.
type tiny struct {
	convW, convB, fcW, fcB []float32
	bn                     *bnParams // nil: no BatchNormalization
}

// bnParams are the inputs of a BatchNormalization node (epsilon 1e-5, the ONNX default).
type bnParams struct{ scale, bias, mean, variance []float32 }

// newTiny returns the tiny model's weights, with a BatchNormalization layer when withBN.
func newTiny(withBN bool) *tiny {
	m := &tiny{convW: make([]float32, filters*3*9), convB: make([]float32, filters),
		fcW: make([]float32, classes*filters), fcB: []float32{0.3, -0.2, 0.5, 0.1, -0.4}}
	for i := range m.convW {
		m.convW[i] = float32(math.Sin(float64(i)*1.7)) * 0.4
	}
	for i := range m.convB {
		m.convB[i] = 0.05 * float32(i)
	}
	for i := range m.fcW {
		m.fcW[i] = float32(math.Cos(float64(i)*0.9)) * 2
	}
	if withBN {
		m.bn = &bnParams{scale: []float32{1.5, 0.7, 1.2, 0.9}, bias: []float32{0.1, -0.3, 0.2, 0},
			mean: []float32{0.2, -0.1, 0.05, 0.3}, variance: []float32{0.5, 2, 1, 0.25}}
	}
	return m
}

// write encodes the model into dir and returns its path; without BN through onnx.Classifier.
func (m *tiny) write(t *testing.T) string {
	t.Helper()
	var data []byte
	if m.bn == nil {
		c := onnx.Classifier{DType: onnx.Float32, Channels: 3, Height: side, Width: side, Filters: filters, Kernel: 3,
			Classes: classes, ConvWeight: m.convW, ConvBias: m.convB, FCWeight: m.fcW, FCBias: m.fcB}
		var err error
		if data, err = c.Encode(); err != nil {
			t.Fatal(err)
		}
	} else {
		data = m.encodeBN()
	}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// forward computes the logits of one [3,side,side] image in float64, independently of any runtime.
func (m *tiny) forward(img []float32) []float64 {
	pooled := make([]float64, filters)
	for f := 0; f < filters; f++ {
		var sum float64
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				v := float64(m.convB[f])
				for c := 0; c < 3; c++ {
					for dy := -1; dy <= 1; dy++ {
						for dx := -1; dx <= 1; dx++ {
							yy, xx := y+dy, x+dx
							if yy < 0 || yy >= side || xx < 0 || xx >= side {
								continue
							}
							v += float64(m.convW[((f*3+c)*3+dy+1)*3+dx+1]) * float64(img[(c*side+yy)*side+xx])
						}
					}
				}
				if m.bn != nil {
					v = (v-float64(m.bn.mean[f]))/math.Sqrt(float64(m.bn.variance[f])+1e-5)*float64(m.bn.scale[f]) + float64(m.bn.bias[f])
				}
				sum += math.Max(v, 0)
			}
		}
		pooled[f] = sum / (side * side)
	}
	out := make([]float64, classes)
	for k := range out {
		out[k] = float64(m.fcB[k])
		for f := 0; f < filters; f++ {
			out[k] += float64(m.fcW[k*filters+f]) * pooled[f]
		}
	}
	return out
}

// softmax64 is the softmax of float64 logits.
func softmax64(z []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, v)
	}
	out := make([]float64, len(z))
	var s float64
	for i, v := range z {
		out[i] = math.Exp(v - mx)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// images returns n generated [3,side,side] images in [0,1] with labels cycling over the classes.
func images(n int) ([][]float32, []int32) {
	imgs := make([][]float32, n)
	labels := make([]int32, n)
	for i := range imgs {
		imgs[i] = make([]float32, 3*side*side)
		for j := range imgs[i] {
			imgs[i][j] = float32(0.5 + 0.5*math.Sin(float64(i*31+j*7)*0.37))
		}
		labels[i] = int32(i % classes)
	}
	return imgs, labels
}

// spillOf writes images and labels into a Spill in batches of batch rows (an extra label_name column included).
func spillOf(t testing.TB, mem memory.Allocator, imgs [][]float32, labels []int32, batch int) *Spill {
	t.Helper()
	s, err := NewSpill(t.TempDir(), mem)
	if err != nil {
		t.Fatal(err)
	}
	n := sideOf(imgs[0])
	shape := []int{3, n, n}
	for lo := 0; lo < len(imgs); lo += batch {
		hi := min(lo+batch, len(imgs))
		rec := sampleBatch(t, mem, shape, imgs[lo:hi], labels[lo:hi], lo)
		err := s.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// sideOf is the side of a square 3-channel image.
func sideOf(img []float32) int { return int(math.Round(math.Sqrt(float64(len(img) / 3)))) }

// sampleBatch builds a batch with sample_id, label, label_name and image columns.
func sampleBatch(t testing.TB, mem memory.Allocator, shape []int, imgs [][]float32, labels []int32, first int) arrow.RecordBatch {
	t.Helper()
	var pix []float32
	for _, im := range imgs {
		pix = append(pix, im...)
	}
	img, err := arrowio.NewTensorArray(mem, shape, pix)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Release()
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: arrowio.ColLabelName, Type: arrow.BinaryTypes.String},
	}, nil))
	defer b.Release()
	for i, y := range labels {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("s%04d", first+i))
		b.Field(1).(*array.Int32Builder).Append(y)
		b.Field(2).(*array.StringBuilder).Append("class")
	}
	base := b.NewRecordBatch()
	defer base.Release()
	rec, err := arrowio.SetColumn(base, arrow.Field{Name: arrowio.ColImage, Type: img.DataType()}, img)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// startRuntime launches the ONNX Runtime plugin with the model at path, overridable names declared.
func startRuntime(t testing.TB, req sdk.LoadSpec, mem memory.Allocator) *host.Runtime {
	t.Helper()
	cat := testenv.Catalog(t, "runtimes/onnxruntime")
	e, ok := cat.Lookup(sdk.KindRuntime, "onnxruntime")
	if !ok {
		t.Fatal("runtime plugin not discovered")
	}
	rt, err := host.StartRuntimeSpec(context.Background(), e, req, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	return rt
}

// tinyLoad is the load request of a tiny model at path.
func tinyLoad(path string, overridable []string) sdk.LoadSpec {
	return sdk.LoadSpec{Path: path, Name: "tiny", Input: sdk.InputMapping{Height: side, Width: side},
		Output: "logits", IntraThreads: 1, Overridable: overridable}
}

// encodeBN writes the tiny model with a BatchNormalization after the Conv as a ModelProto (IR 8,
// opset 13), field numbers from onnx.proto.
func (m *tiny) encodeBN() []byte {
	str := func(b []byte, num protowire.Number, s string) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), []byte(s))
	}
	msg := func(b []byte, num protowire.Number, sub []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), sub)
	}
	varint := func(b []byte, num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
	}
	ints := func(name string, vs ...int64) []byte { // AttributeProto INTS
		a := str(nil, 1, name)
		for _, v := range vs {
			a = varint(a, 8, uint64(v))
		}
		return varint(a, 20, 7)
	}
	node := func(name, op string, in, out []string, attrs ...[]byte) []byte {
		var n []byte
		for _, s := range in {
			n = str(n, 1, s)
		}
		for _, s := range out {
			n = str(n, 2, s)
		}
		n = str(str(n, 3, name), 4, op)
		for _, a := range attrs {
			n = msg(n, 5, a)
		}
		return n
	}
	tensor := func(name string, vals []float32, dims ...int64) []byte {
		var t []byte
		for _, d := range dims {
			t = varint(t, 1, uint64(d))
		}
		t = str(varint(t, 2, 1), 8, name) // data_type FLOAT
		raw := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		return msg(t, 9, raw)
	}
	valueInfo := func(name string, dims ...any) []byte {
		var shape []byte
		for _, d := range dims {
			switch d := d.(type) {
			case string:
				shape = msg(shape, 1, str(nil, 2, d))
			case int:
				shape = msg(shape, 1, varint(nil, 1, uint64(d)))
			}
		}
		tt := msg(varint(nil, 1, 1), 2, shape)
		return msg(str(nil, 1, name), 2, msg(nil, 1, tt))
	}
	var g []byte
	g = msg(g, 1, node("conv", "Conv", []string{"input", "conv.weight", "conv.bias"}, []string{"conv_out"},
		ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1), ints("strides", 1, 1)))
	g = msg(g, 1, node("bn", "BatchNormalization", []string{"conv_out", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, []string{"bn_out"}))
	g = msg(g, 1, node("relu", "Relu", []string{"bn_out"}, []string{"relu_out"}))
	g = msg(g, 1, node("pool", "GlobalAveragePool", []string{"relu_out"}, []string{"pool_out"}))
	g = msg(g, 1, node("flatten", "Flatten", []string{"pool_out"}, []string{"pooled"}, varint(varint(str(nil, 1, "axis"), 3, 1), 20, 2)))
	g = msg(g, 1, node("fc", "Gemm", []string{"pooled", "fc.weight", "fc.bias"}, []string{"logits"}, varint(varint(str(nil, 1, "transB"), 3, 1), 20, 2)))
	g = str(g, 2, "tiny-bn")
	for _, ts := range []struct {
		name string
		vals []float32
		dims []int64
	}{{"conv.weight", m.convW, []int64{filters, 3, 3, 3}}, {"conv.bias", m.convB, []int64{filters}},
		{"bn.scale", m.bn.scale, []int64{filters}}, {"bn.bias", m.bn.bias, []int64{filters}},
		{"bn.mean", m.bn.mean, []int64{filters}}, {"bn.var", m.bn.variance, []int64{filters}},
		{"fc.weight", m.fcW, []int64{classes, filters}}, {"fc.bias", m.fcB, []int64{classes}}} {
		g = msg(g, 5, tensor(ts.name, ts.vals, ts.dims...))
	}
	g = msg(g, 11, valueInfo("input", "N", 3, side, side))
	g = msg(g, 12, valueInfo("logits", "N", classes))
	model := varint(nil, 1, 8)
	model = msg(model, 7, g)
	return msg(model, 8, varint(nil, 2, 13))
}
