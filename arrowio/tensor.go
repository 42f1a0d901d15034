// Package arrowio holds vistudy's Arrow conventions: column names and schemas,
// the canonical fixed-shape tensor extension type, and the IPC and Parquet
// readers and writers every stage and plugin shares.
package arrowio

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TensorExtensionName is the canonical Arrow extension name for fixed-shape tensors.
const TensorExtensionName = "arrow.fixed_shape_tensor"

// TensorType is the canonical extension type arrow.fixed_shape_tensor over FixedSizeList<float32>.
type TensorType struct {
	arrow.ExtensionBase
	shape []int
}

// tensorMeta is the JSON metadata of the canonical extension.
type tensorMeta struct {
	Shape       []int    `json:"shape"`
	DimNames    []string `json:"dim_names,omitempty"`
	Permutation []int    `json:"permutation,omitempty"`
}

// NewTensorType returns the tensor type of one row's shape (e.g. [C,H,W]).
func NewTensorType(shape ...int) *TensorType {
	n := 1
	for _, d := range shape {
		n *= d
	}
	s := append([]int(nil), shape...)
	return &TensorType{
		ExtensionBase: arrow.ExtensionBase{Storage: arrow.FixedSizeListOf(int32(n), arrow.PrimitiveTypes.Float32)},
		shape:         s,
	}
}

// Shape is the per-row tensor shape.
func (t *TensorType) Shape() []int { return append([]int(nil), t.shape...) }

// Size is the number of float32 values per row.
func (t *TensorType) Size() int { return int(t.Storage.(*arrow.FixedSizeListType).Len()) }

// ExtensionName implements arrow.ExtensionType.
func (*TensorType) ExtensionName() string { return TensorExtensionName }

// String implements arrow.DataType.
func (t *TensorType) String() string {
	return fmt.Sprintf("extension<%s[shape=%v]>", TensorExtensionName, t.shape)
}

// Serialize implements arrow.ExtensionType.
func (t *TensorType) Serialize() string {
	b, _ := json.Marshal(tensorMeta{Shape: t.shape})
	return string(b)
}

// Deserialize implements arrow.ExtensionType; it accepts only float32 storage.
func (*TensorType) Deserialize(storage arrow.DataType, data string) (arrow.ExtensionType, error) {
	fsl, ok := storage.(*arrow.FixedSizeListType)
	if !ok || fsl.Elem().ID() != arrow.FLOAT32 {
		return nil, fmt.Errorf("arrowio: %s storage must be FixedSizeList<float32>, got %s", TensorExtensionName, storage)
	}
	var m tensorMeta
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return nil, fmt.Errorf("arrowio: %s metadata %q: %w", TensorExtensionName, data, err)
	}
	if len(m.Permutation) > 0 {
		for i, p := range m.Permutation {
			if p != i {
				return nil, fmt.Errorf("arrowio: %s with permutation %v is not supported", TensorExtensionName, m.Permutation)
			}
		}
	}
	n := 1
	for _, d := range m.Shape {
		n *= d
	}
	if int32(n) != fsl.Len() {
		return nil, fmt.Errorf("arrowio: %s shape %v holds %d values, storage list has %d", TensorExtensionName, m.Shape, n, fsl.Len())
	}
	return NewTensorType(m.Shape...), nil
}

// ExtensionEquals implements arrow.ExtensionType.
func (t *TensorType) ExtensionEquals(other arrow.ExtensionType) bool {
	o, ok := other.(*TensorType)
	return ok && reflect.DeepEqual(t.shape, o.shape)
}

// ArrayType implements arrow.ExtensionType.
func (*TensorType) ArrayType() reflect.Type { return reflect.TypeOf(TensorArray{}) }

// TensorArray is an array of fixed-shape float32 tensors.
type TensorArray struct {
	array.ExtensionArrayBase
}

// Shape is the per-row tensor shape.
func (a *TensorArray) Shape() []int { return a.ExtensionType().(*TensorType).Shape() }

// Values returns all rows' values back to back (row-major), without copying.
func (a *TensorArray) Values() []float32 {
	fsl := a.Storage().(*array.FixedSizeList)
	size := a.ExtensionType().(*TensorType).Size()
	vals := fsl.ListValues().(*array.Float32).Float32Values()
	off := fsl.Offset() * size
	return vals[off : off+a.Len()*size]
}

// Row returns the values of row i, without copying.
func (a *TensorArray) Row(i int) []float32 {
	size := a.ExtensionType().(*TensorType).Size()
	return a.Values()[i*size : (i+1)*size]
}

// String implements fmt.Stringer.
func (a *TensorArray) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "TensorArray%v[%d rows]", a.Shape(), a.Len())
	return b.String()
}

// NewTensorArray builds a tensor array of len(data)/prod(shape) rows from row-major values.
func NewTensorArray(mem memory.Allocator, shape []int, data []float32) (*TensorArray, error) {
	typ := NewTensorType(shape...)
	size := typ.Size()
	if size == 0 || len(data)%size != 0 {
		return nil, fmt.Errorf("arrowio: %d values do not fill rows of shape %v", len(data), shape)
	}
	vb := array.NewFloat32Builder(mem)
	defer vb.Release()
	vb.AppendValues(data, nil)
	vals := vb.NewFloat32Array()
	defer vals.Release()
	n := len(data) / size
	nd := array.NewData(typ.Storage, n, []*memory.Buffer{nil}, []arrow.ArrayData{vals.Data()}, 0, 0)
	defer nd.Release()
	storage := array.NewFixedSizeListData(nd)
	defer storage.Release()
	return array.NewExtensionArrayWithStorage(typ, storage).(*TensorArray), nil
}

// TensorColumn returns column name of rec as a tensor array, or an error naming what was found.
func TensorColumn(rec arrow.RecordBatch, name string) (*TensorArray, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("arrowio: batch has no column %q (columns: %s)", name, columnNames(rec.Schema()))
	}
	t, ok := rec.Column(idx[0]).(*TensorArray)
	if !ok {
		return nil, fmt.Errorf("arrowio: column %q is %s, want %s", name, rec.Column(idx[0]).DataType(), TensorExtensionName)
	}
	return t, nil
}

func columnNames(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

func init() {
	if err := arrow.RegisterExtensionType(NewTensorType(1)); err != nil {
		panic(err)
	}
}
