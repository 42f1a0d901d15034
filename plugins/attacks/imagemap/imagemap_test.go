package imagemap

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
)

func TestMapTransformsEveryRowInPlace(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// 50 rows of [2,3,4]; value j of row i is i + j/100.
	batch := attacktest.Batch(t, mem, []int{2, 3, 4}, make([]int32, 50), func(i, j int) float32 { return float32(i) + float32(j)/100 })
	defer batch.Release()
	var workers atomic.Int32
	out, err := Map(context.Background(), batch, mem, func(s Shape) (Func, error) {
		workers.Add(1)
		if s != (Shape{C: 2, H: 3, W: 4}) {
			t.Errorf("shape %+v", s)
		}
		return func(row int, dst, src []float32) error {
			for j, v := range src {
				dst[j] = v*2 + float32(row) // the row argument must be the row the image sits in
			}
			return nil
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	got := attacktest.Images(t, out)
	for i := 0; i < 50; i++ {
		for j := 0; j < 24; j++ {
			want := (float32(i)+float32(j)/100)*2 + float32(i)
			if got[i*24+j] != want {
				t.Fatalf("row %d value %d = %v, want %v", i, j, got[i*24+j], want)
			}
		}
	}
	if ids, _ := arrowio.StringColumn(out, arrowio.ColSampleID); len(ids) != 50 || ids[7] != "img-7" {
		t.Errorf("sample ids changed: %v", ids[:3])
	}
	if w := workers.Load(); w < 1 {
		t.Errorf("%d workers", w)
	}
}

func TestMapReportsTheFailingRow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Batch(t, mem, []int{1, 2, 2}, make([]int32, 9), func(int, int) float32 { return 0 })
	defer batch.Release()
	boom := errors.New("boom")
	_, err := Map(context.Background(), batch, mem, func(Shape) (Func, error) {
		return func(row int, _, _ []float32) error {
			if row == 6 {
				return boom
			}
			return nil
		}, nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "image 6") {
		t.Errorf("error %v, want boom naming image 6", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Map(ctx, batch, mem, func(Shape) (Func, error) {
		return func(int, []float32, []float32) error { return nil }, nil
	}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context gave %v", err)
	}
}

func TestMapRejectsImagesThatAreNotCHW(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Batch(t, mem, []int{4, 4}, []int32{0}, func(int, int) float32 { return 0 })
	defer batch.Release()
	if _, err := ImageShape(batch); err == nil {
		t.Error("a [4,4] image column was accepted")
	}
}

func TestAddColumnsReplacesAndAppends(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := attacktest.Batch(t, mem, []int{1, 1, 1}, []int32{1, 2}, func(int, int) float32 { return 0 })
	defer batch.Release()
	lb := array.NewInt32Builder(mem)
	defer lb.Release()
	lb.AppendValues([]int32{7, 8}, nil)
	labels := lb.NewArray()
	defer labels.Release()
	fb := array.NewFloat64Builder(mem)
	defer fb.Release()
	fb.AppendValues([]float64{0.5, 0.25}, nil)
	extra := fb.NewArray()
	defer extra.Release()
	out, err := AddColumns(batch,
		Column{arrow.Field{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32}, labels},
		Column{arrow.Field{Name: "extra", Type: arrow.PrimitiveTypes.Float64}, extra})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if out.NumCols() != batch.NumCols()+1 || out.Schema().Field(out.Schema().NumFields()-1).Name != "extra" {
		t.Fatalf("columns %s", out.Schema())
	}
	if got, _ := arrowio.Int32Column(out, arrowio.ColLabel); got[0] != 7 || got[1] != 8 {
		t.Errorf("labels %v, want [7 8]", got)
	}
	short := array.NewFloat64Builder(mem)
	defer short.Release()
	short.Append(1)
	one := short.NewArray()
	defer one.Release()
	if _, err := AddColumns(batch, Column{arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Float64}, one}); err == nil {
		t.Error("a one-row column on a two-row batch was accepted")
	}
}
