package filters

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// Columns of the raw kernels table besides model: one row per 3×3 kernel.
const (
	ColLayer      = "layer"       // layer name
	ColOp         = "op"          // operator type (Conv)
	ColIndex      = "index"       // absolute depth among the Conv/Gemm/MatMul layers
	ColDepth      = "depth"       // relative depth in [0, 1]
	ColOutChannel = "out_channel" // output channel of the kernel
	ColInChannel  = "in_channel"  // input channel of the kernel (within its group)
)

// kernelColumns names the 9 kernel values w0..w8, row-major over the 3×3 window (w0 top left).
var kernelColumns = func() (out [9]string) {
	for i := range out {
		out[i] = fmt.Sprintf("w%d", i)
	}
	return out
}()

// KernelsSchema is the raw kernels table: model, layer, op, index, depth, out_channel, in_channel
// and the 9 values as float32 columns w0..w8 (row-major), which pandas reads as plain numeric
// columns (df[[f"w{i}" for i in range(9)]].to_numpy() is the N×9 matrix) and DuckDB can aggregate,
// where a tensor column would reach pandas as an object column of arrays.
var KernelsSchema = func() *arrow.Schema {
	fields := []arrow.Field{
		{Name: arrowio.ColModel, Type: arrowio.ModelType},
		{Name: ColLayer, Type: arrow.BinaryTypes.String},
		{Name: ColOp, Type: arrow.BinaryTypes.String},
		{Name: ColIndex, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColDepth, Type: arrow.PrimitiveTypes.Float64},
		{Name: ColOutChannel, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColInChannel, Type: arrow.PrimitiveTypes.Int32},
	}
	for _, name := range kernelColumns {
		fields = append(fields, arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float32})
	}
	return arrow.NewSchema(fields, nil)
}()

// KernelsRecord returns a layer's kernels as a KernelsSchema batch of k.Rows() rows; the caller releases it.
func KernelsRecord(mem memory.Allocator, model string, layer onnx.Layer, k *onnx.Kernels) (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(mem, KernelsSchema)
	defer b.Release()
	n := k.Rows()
	b.Reserve(n)
	models := b.Field(0).(*array.BinaryDictionaryBuilder)
	for r := 0; r < n; r++ {
		if err := models.AppendString(model); err != nil {
			return nil, fmt.Errorf("filters: kernels of %s layer %q: %w", model, layer.Name, err)
		}
		b.Field(1).(*array.StringBuilder).Append(layer.Name)
		b.Field(2).(*array.StringBuilder).Append(layer.OpType)
		b.Field(3).(*array.Int32Builder).Append(int32(layer.Depth))
		b.Field(4).(*array.Float64Builder).Append(layer.RelDepth)
		b.Field(5).(*array.Int32Builder).Append(int32(int64(r) / k.CIn))
		b.Field(6).(*array.Int32Builder).Append(int32(int64(r) % k.CIn))
	}
	for j := range kernelColumns {
		col := b.Field(7 + j).(*array.Float32Builder)
		for r := 0; r < n; r++ {
			col.Append(k.Values[9*r+j])
		}
	}
	return b.NewRecordBatch(), nil
}
