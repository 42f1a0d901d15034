package pqfile

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/vistudy/vistudy/arrowio"
)

// tensorBatch is rows of sample_id and an image tensor of shape whose values count up by 1/7.
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
	img, err := arrowio.NewTensorArray(mem, shape, vals)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Release()
	ids := array.NewStringBuilder(mem)
	defer ids.Release()
	for i := 0; i < rows; i++ {
		ids.Append(string(rune('a' + i)))
	}
	idArr := ids.NewArray()
	defer idArr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String}, {Name: arrowio.ColImage, Type: img.DataType()}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{idArr, img}, int64(rows))
}

// TestTensorParquetRoundTrip writes tensor columns of several shapes to Parquet and reads them
// back as arrow.fixed_shape_tensor with every value and the extension's shape.
func TestTensorParquetRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3, 4, 5}, {7}, {2, 3}} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		rec := tensorBatch(t, mem, shape, 4)
		p := filepath.Join(t.TempDir(), "t.parquet")
		if err := WriteParquet(p, rec.Schema(), []arrow.RecordBatch{rec, rec}, mem); err != nil {
			t.Fatal(err)
		}
		back, err := ReadParquet(p, mem)
		if err != nil {
			t.Fatal(err)
		}
		ta, err := arrowio.TensorColumn(back, arrowio.ColImage)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ta.Shape(), shape) || ta.Len() != 8 {
			t.Fatalf("tensor shape %v × %d rows, want %v × 8", ta.Shape(), ta.Len(), shape)
		}
		if ext := ta.DataType().(arrow.ExtensionType); ext.ExtensionName() != "arrow.fixed_shape_tensor" {
			t.Errorf("extension %s", ext.ExtensionName())
		}
		for i, v := range ta.Values() {
			if want := float32(i%(len(ta.Values())/2)) / 7; v != want {
				t.Fatalf("value %d = %v, want %v", i, v, want)
			}
		}
		back.Release()
		rec.Release()
		mem.AssertSize(t, 0)
	}
}

func TestTensorTypeRejects(t *testing.T) {
	typ := arrowio.NewTensorType(2, 2)
	if _, err := typ.Deserialize(arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float64), `{"shape":[2,2]}`); err == nil {
		t.Error("float64 storage accepted")
	}
	if _, err := typ.Deserialize(arrow.FixedSizeListOf(5, arrow.PrimitiveTypes.Float32), `{"shape":[2,2]}`); err == nil {
		t.Error("shape [2,2] over a list of 5 accepted")
	}
	if _, err := typ.Deserialize(arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float32), `{"shape":[2,2],"permutation":[1,0]}`); err == nil {
		t.Error("a permuted tensor accepted")
	}
	if got, err := typ.Deserialize(arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float32), `{"shape":[2,2],"dim_names":["h","w"]}`); err != nil || !got.ExtensionEquals(typ) {
		t.Errorf("dim_names: %v %v", got, err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if _, err := arrowio.NewTensorArray(mem, []int{3}, []float32{1, 2}); err == nil {
		t.Error("2 values accepted as rows of 3")
	}
}

func TestResultsAndErrorsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	rows := []arrowio.Result{
		{Model: "m2", Stage: "acc", Metric: "top1", Group: "", Value: 0.5, N: 10},
		{Model: "m1", Stage: "acc", Metric: "top5", Group: "c=0.1", Value: 0.75, N: 8},
		{Model: "m1", Stage: "acc", Metric: "top1", Group: "c=0.1", Value: 0.25, N: 8},
	}
	if err := WriteResults(filepath.Join(dir, "r.parquet"), rows, mem); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResults(filepath.Join(dir, "r.parquet"), mem)
	if err != nil {
		t.Fatal(err)
	}
	want := []arrowio.Result{rows[2], rows[1], rows[0]} // sorted by stage, model, metric, group
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results %+v, want %+v", got, want)
	}
	errs := []arrowio.ErrorRow{
		{SampleID: "b.jpg", Path: "/data/b.jpg", Dataset: "d", Stage: "images", Reason: "truncated"},
		{SampleID: "a.jpg", Path: "/data/a.jpg", Dataset: "d", Stage: "images", Reason: "missing"},
		{SampleID: "a.jpg", Path: "/data/a.jpg", Dataset: "d", Stage: "images", Reason: "missing"},
		{SampleID: "a.jpg", Path: "/data/a.jpg", Dataset: "d", Stage: "attack", Model: "m1", Reason: "rejected"},
	}
	if err := WriteErrors(filepath.Join(dir, "e.parquet"), errs, mem); err != nil {
		t.Fatal(err)
	}
	gotE, err := ReadErrors(filepath.Join(dir, "e.parquet"), mem)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotE, []arrowio.ErrorRow{errs[3], errs[1], errs[0]}) {
		t.Errorf("errors %+v (want sorted, duplicates dropped)", gotE)
	}
	if _, err := ReadResults(filepath.Join(dir, "e.parquet"), mem); err == nil {
		t.Error("an errors table read as results")
	}
}

func TestResultsTypedColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "r.parquet")
	rows := []arrowio.Result{
		{Model: "m", Stage: "band", Metric: "top1", Group: "band=3,sd=0.04", Value: 0.5, N: 10},
		{Model: "m", Stage: "band", Metric: "top1", Group: "band=0,sd=0.5", Value: 0.25, N: 10},
		{Model: "m", Stage: "shape", Metric: "shape_bias", Group: "category=cat", Value: 0.7, N: 9},
		{Model: "m", Stage: "cal", Metric: "bin_count", Group: "bin=07", Value: 3, N: 9},
		{Model: "m", Stage: "odd", Metric: "x", Group: "value=a,n=2.5", Value: 1, N: 1},
		{Model: "m", Stage: "acc", Metric: "top1", Group: "", Value: 0.9, N: 10},
	}
	if err := WriteResults(path, rows, mem); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadParquet(path, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	wantTypes := map[string]arrow.DataType{"band": arrow.PrimitiveTypes.Int64, "bin": arrow.PrimitiveTypes.Int64,
		"category": arrow.BinaryTypes.String, "group_n": arrow.PrimitiveTypes.Float64, "group_value": arrow.BinaryTypes.String,
		"sd": arrow.PrimitiveTypes.Float64}
	var names []string
	for _, f := range rec.Schema().Fields()[6:] {
		names = append(names, f.Name)
		if want := wantTypes[f.Name]; want == nil || !arrow.TypeEqual(f.Type, want) {
			t.Errorf("column %s: type %s, want %v", f.Name, f.Type, want)
		}
	}
	if want := []string{"band", "bin", "category", "group_n", "group_value", "sd"}; !reflect.DeepEqual(names, want) {
		t.Errorf("typed columns %v, want %v", names, want)
	}
	// Sorted: acc, band (band=0 first), cal, odd, shape.
	col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
	band, sd, bin, cat := col("band").(*array.Int64), col("sd").(*array.Float64), col("bin").(*array.Int64), col("category").(*array.String)
	if !band.IsNull(0) || band.Value(1) != 0 || band.Value(2) != 3 || sd.Value(1) != 0.5 || sd.Value(2) != 0.04 {
		t.Errorf("band/sd columns %v %v", band, sd)
	}
	if bin.Value(3) != 7 || !bin.IsNull(4) || cat.Value(5) != "cat" || !cat.IsNull(0) {
		t.Errorf("bin/category columns %v %v", bin, cat)
	}
	got, err := ReadResults(path, mem)
	if err != nil || len(got) != len(rows) {
		t.Fatalf("read back %d rows, %v", len(got), err)
	}
	if err := WriteResults(path, []arrowio.Result{{Model: "m", Stage: "s", Metric: "x", Group: "notkv", Value: 1, N: 1}}, mem); err == nil {
		t.Error("a group that is not key=value written")
	}
}

func TestReadResultsFirstLayout(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	b := array.NewRecordBuilder(mem, arrowio.ResultsSchema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append("m")
	b.Field(1).(*array.StringBuilder).Append("acc")
	b.Field(2).(*array.StringBuilder).Append("top1")
	b.Field(3).(*array.StringBuilder).Append("c=0.1")
	b.Field(4).(*array.Float64Builder).Append(0.5)
	b.Field(5).(*array.Int64Builder).Append(4)
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := WriteParquet(filepath.Join(dir, "r.parquet"), arrowio.ResultsSchema, []arrow.RecordBatch{rec}, mem); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResults(filepath.Join(dir, "r.parquet"), mem)
	if err != nil || !reflect.DeepEqual(got, []arrowio.Result{{Model: "m", Stage: "acc", Metric: "top1", Group: "c=0.1", Value: 0.5, N: 4}}) {
		t.Errorf("first-layout results %+v, %v", got, err)
	}
	eb := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{{Name: "path", Type: arrow.BinaryTypes.String},
		{Name: "stage", Type: arrow.BinaryTypes.String}, {Name: "reason", Type: arrow.BinaryTypes.String}}, nil))
	defer eb.Release()
	eb.Field(0).(*array.StringBuilder).Append("a.jpg")
	eb.Field(1).(*array.StringBuilder).Append("images")
	eb.Field(2).(*array.StringBuilder).Append("truncated")
	erec := eb.NewRecordBatch()
	defer erec.Release()
	if err := WriteParquet(filepath.Join(dir, "e.parquet"), erec.Schema(), []arrow.RecordBatch{erec}, mem); err != nil {
		t.Fatal(err)
	}
	gotE, err := ReadErrors(filepath.Join(dir, "e.parquet"), mem)
	if err != nil || !reflect.DeepEqual(gotE, []arrowio.ErrorRow{{SampleID: "a.jpg", Path: "a.jpg", Stage: "images", Reason: "truncated"}}) {
		t.Errorf("first-layout errors %+v, %v", gotE, err)
	}
}

func TestPartWriter(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	path := PartPath(root, "preds", []Partition{{"model", "resnet/50"}, {"c", "0.1"}}, "u00003")
	if want := filepath.Join(root, "tables", "preds", "model-resnet%2F50", "c-0.1", "part-u00003.parquet"); path != want {
		t.Errorf("part path %s, want %s", path, want)
	}
	rec := tensorBatch(t, mem, []int{2}, 3)
	defer rec.Release()
	pw := NewPartWriter(path, mem, arrowio.ColSampleID)
	pw.Const = []ConstColumn{{"model", "resnet/50"}, {"c", 0.1}, {"severity", int64(3)}, {"flag", true}}
	for i := 0; i < 2; i++ {
		if err := pw.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("part visible before Commit")
	}
	if got, err := pw.Commit(); err != nil || got != path {
		t.Fatalf("commit: %s %v", got, err)
	}
	back, err := ReadParquet(path, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Release()
	if back.NumRows() != 6 || back.NumCols() != 5 {
		t.Errorf("part has %d rows × %d columns, want 6 × 5 (sample_id dropped, 4 constants added)", back.NumRows(), back.NumCols())
	}
	models, _ := arrowio.StringColumn(back, "model")
	c := back.Column(back.Schema().FieldIndices("c")[0]).(*array.Float64)
	sev := back.Column(back.Schema().FieldIndices("severity")[0]).(*array.Int64)
	flag := back.Column(back.Schema().FieldIndices("flag")[0]).(*array.Boolean)
	if len(models) != 6 || models[5] != "resnet/50" || c.Value(5) != 0.1 || sev.Value(0) != 3 || !flag.Value(2) {
		t.Errorf("constant columns: model %v, c %v, severity %v, flag %v", models, c, sev, flag)
	}
	aborted := NewPartWriter(filepath.Join(root, "x.parquet"), mem)
	aborted.Write(rec)
	aborted.Abort()
	if ents, _ := os.ReadDir(root); len(ents) != 1 {
		t.Errorf("abort left files: %v", ents)
	}
}

// TestNestedFloatsPlain: values nested in a row (a tensor column) are written without a
// dictionary, while scalar columns keep theirs.
func TestNestedFloatsPlain(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := tensorBatch(t, mem, []int{3, 2}, 5)
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "t.parquet")
	if err := WriteParquet(p, rec.Schema(), []arrow.RecordBatch{rec}, mem); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rg := r.MetaData().RowGroup(0)
	for i := 0; i < rg.NumColumns(); i++ {
		c, err := rg.ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		dict := slices.Contains(c.Encodings(), parquet.Encodings.RLEDict)
		if want := c.PathInSchema().String() == arrowio.ColSampleID; dict != want {
			t.Errorf("column %s: dictionary %v, want %v (encodings %v)", c.PathInSchema(), dict, want, c.Encodings())
		}
	}
}
