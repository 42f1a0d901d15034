package arrowio

import (
	"maps"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func tensorBatch(t *testing.T, mem memory.Allocator, shape []int, rows int) arrow.RecordBatch {
	t.Helper()
	size := 1
	for _, d := range shape {
		size *= d
	}
	vals := make([]float32, rows*size)
	for i := range vals {
		vals[i] = float32(i) / 7
	}
	arr, err := NewTensorArray(mem, shape, vals)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Release()
	ids := array.NewStringBuilder(mem)
	defer ids.Release()
	for i := 0; i < rows; i++ {
		ids.Append(string(rune('a' + i)))
	}
	idArr := ids.NewArray()
	defer idArr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: ColSampleID, Type: arrow.BinaryTypes.String}, {Name: ColImage, Type: arr.DataType()}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{idArr, arr}, int64(rows))
}

func checkTensor(t *testing.T, rec arrow.RecordBatch, shape []int, rows int) {
	t.Helper()
	ta, err := TensorColumn(rec, ColImage)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ta.Shape(), shape) || ta.Len() != rows {
		t.Fatalf("tensor shape %v × %d rows, want %v × %d", ta.Shape(), ta.Len(), shape, rows)
	}
	if ext := ta.DataType().(arrow.ExtensionType); ext.ExtensionName() != "arrow.fixed_shape_tensor" || ext.Serialize() != `{"shape":[`+joinInts(shape)+`]}` {
		t.Errorf("extension %s %s", ext.ExtensionName(), ext.Serialize())
	}
	size := len(ta.Row(0))
	for i, v := range ta.Values() {
		if v != float32(i)/7 {
			t.Fatalf("value %d (row %d) = %v, want %v", i, i/size, v, float32(i)/7)
		}
	}
}

func joinInts(v []int) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += ","
		}
		s += string(rune('0' + x))
	}
	return s
}

func TestTensorIPCRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3, 4, 5}, {7}, {2, 3}} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		rec := tensorBatch(t, mem, shape, 4)
		data, err := EncodeIPC(rec, mem)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeIPC(data, mem)
		if err != nil {
			t.Fatal(err)
		}
		checkTensor(t, back, shape, 4)
		back.Release()

		rec.Release()
		mem.AssertSize(t, 0)
	}
}

func TestParseGroup(t *testing.T) {
	cases := []struct {
		group string
		want  map[string]string
		bad   bool
	}{
		{"", map[string]string{}, false},
		{"c=0.1", map[string]string{"c": "0.1"}, false},
		{"band=3,sd=0.04", map[string]string{"band": "3", "sd": "0.04"}, false},
		{"category=air plane", map[string]string{"category": "air plane"}, false},
		{"reason=x", map[string]string{"reason": "x"}, false},
		{"band", nil, true},
		{"=3", nil, true},
		{"a=1,a=2", nil, true},
	}
	for _, c := range cases {
		got, err := ParseGroup(c.group)
		if (err != nil) != c.bad || !c.bad && !maps.Equal(got, c.want) {
			t.Errorf("ParseGroup(%q) = %v, %v; want %v (error %v)", c.group, got, err, c.want, c.bad)
		}
	}
}

func TestJoinGroup(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{{nil, ""}, {[]string{"", ""}, ""}, {[]string{"threshold=0.25", ""}, "threshold=0.25"}, {[]string{"", "bin=07"}, "bin=07"},
		{[]string{"band=3,sd=0.04", "category=cat"}, "band=3,sd=0.04,category=cat"}} {
		if got := JoinGroup(c.in...); got != c.want {
			t.Errorf("JoinGroup(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
