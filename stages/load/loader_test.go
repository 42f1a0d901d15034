package load

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/stages/labels"
)

// renderedDataset is a generated dataset: sample i is a (17+i%5)×(11+i%7) pattern. It counts Image calls,
// can slow some down (to scramble completion order) and can fail or panic on chosen samples.
type renderedDataset struct {
	n       int
	space   *labels.Space
	calls   atomic.Int64
	delay   func(i int) time.Duration
	failing map[int]string // sample index → "error" or "panic"
}

func newRendered(t testing.TB, n int) *renderedDataset {
	space, err := labels.New("abc", []string{"a", "b", "c"}, []string{"A", "B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	return &renderedDataset{n: n, space: space}
}

func (d *renderedDataset) Name() string          { return "rendered" }
func (d *renderedDataset) Kind() string          { return "rendered" }
func (d *renderedDataset) Labels() *labels.Space { return d.space }
func (d *renderedDataset) CueConflict() bool     { return true }
func (d *renderedDataset) Samples() []Sample {
	s := make([]Sample, d.n)
	for i := range s {
		s[i] = Sample{Index: i, ID: fmt.Sprintf("gen/%06d", i), Label: int32(i % 3), LabelName: d.space.ClassName(i % 3),
			Shape: int32(i % 3), Texture: int32((i + 1) % 3)}
	}
	return s
}
func (d *renderedDataset) Image(s Sample) (image.Image, error) {
	d.calls.Add(1)
	if d.delay != nil {
		time.Sleep(d.delay(s.Index))
	}
	switch d.failing[s.Index] {
	case "error":
		return nil, fmt.Errorf("render %s: refused", s.ID)
	case "panic":
		panic("renderer bug")
	}
	i := s.Index
	img := image.NewNRGBA(image.Rect(0, 0, 17+i%5, 11+i%7))
	for y := range img.Rect.Dy() {
		for x := range img.Rect.Dx() {
			img.SetNRGBA(x, y, color.NRGBA{uint8(i + 31*x), uint8(7*i + 17*y), uint8(x * y), 255})
		}
	}
	return img, nil
}

// collected is everything a run emitted, copied out of the batches.
type collected struct {
	batchRows []int
	ids       []string
	labels    []int32
	names     []string
	shapes    []int32
	textures  []int32
	images    [][]float32
	errs      []arrowio.ErrorRow
}

// runLoader runs l over ds and copies the output, checking every batch against Schema.
func runLoader(t *testing.T, l *Loader, ds Dataset, g Geometry) (collected, error) {
	t.Helper()
	var c collected
	want := Schema(ds.CueConflict(), g)
	err := l.Run(context.Background(), ds, ds.Samples(), g, func(rec arrow.RecordBatch) error {
		defer rec.Release()
		if !rec.Schema().Equal(want) {
			t.Errorf("batch schema %s, want %s", rec.Schema(), want)
		}
		c.batchRows = append(c.batchRows, int(rec.NumRows()))
		for i := range int(rec.NumRows()) {
			c.ids = append(c.ids, rec.Column(0).(*array.String).Value(i))
			c.labels = append(c.labels, rec.Column(1).(*array.Int32).Value(i))
			c.names = append(c.names, rec.Column(2).(*array.String).Value(i))
			if ds.CueConflict() {
				c.shapes = append(c.shapes, rec.Column(3).(*array.Int32).Value(i))
				c.textures = append(c.textures, rec.Column(4).(*array.Int32).Value(i))
			}
		}
		img, err := arrowio.TensorColumn(rec, arrowio.ColImage)
		if err != nil {
			return err
		}
		if !slices.Equal(img.Shape(), []int{3, g.Height, g.Width}) {
			t.Errorf("image shape %v", img.Shape())
		}
		for i := range img.Len() {
			c.images = append(c.images, slices.Clone(img.Row(i)))
		}
		return nil
	}, func(e arrowio.ErrorRow) { c.errs = append(c.errs, e) })
	return c, err
}

func TestLoaderDeterministicAcrossWorkers(t *testing.T) {
	g := Geometry{Resize: 12, Height: 10, Width: 11}
	ds := newRendered(t, 53)
	ds.failing = map[int]string{7: "error", 30: "panic"}
	ds.delay = func(i int) time.Duration { return time.Duration((i*7919)%5) * time.Millisecond } // finish out of order
	var runs []collected
	for _, workers := range []int{1, 8} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		c, err := runLoader(t, &Loader{Workers: workers, BatchSize: 5, Mem: mem, Stage: "images"}, ds, g)
		if err != nil {
			t.Fatal(err)
		}
		mem.AssertSize(t, 0)
		runs = append(runs, c)
	}
	a, b := runs[0], runs[1]
	// 53 samples, 2 failing: 51 rows in batches of 5, the last holding 1.
	if want := append(slices.Repeat([]int{5}, 10), 1); !slices.Equal(a.batchRows, want) {
		t.Errorf("batch sizes %v, want %v", a.batchRows, want)
	}
	if !slices.Equal(a.batchRows, b.batchRows) || !slices.Equal(a.ids, b.ids) || !slices.Equal(a.labels, b.labels) ||
		!slices.Equal(a.names, b.names) || !slices.Equal(a.shapes, b.shapes) || !slices.Equal(a.textures, b.textures) ||
		!slices.EqualFunc(a.images, b.images, slices.Equal) || !slices.Equal(a.errs, b.errs) {
		t.Fatal("Workers 1 and 8 gave different output")
	}
	samples := ds.Samples()
	samples = slices.Delete(samples, 30, 31)
	samples = slices.Delete(samples, 7, 8)
	for i, s := range samples {
		if a.ids[i] != s.ID || a.labels[i] != s.Label || a.names[i] != s.LabelName || a.shapes[i] != s.Shape || a.textures[i] != s.Texture {
			t.Fatalf("row %d: %s %d %s %d %d, want sample %+v", i, a.ids[i], a.labels[i], a.names[i], a.shapes[i], a.textures[i], s)
		}
		img, _ := ds.Image(s)
		want, err := Preprocess(img, g)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.images[i], want) {
			t.Fatalf("row %d (%s): image differs from Preprocess", i, s.ID)
		}
	}
	if len(a.errs) != 2 || a.errs[0].Path != "gen/000007" || !strings.Contains(a.errs[0].Reason, "refused") ||
		a.errs[1].Path != "gen/000030" || !strings.Contains(a.errs[1].Reason, "panic") || a.errs[0].Stage != "images" {
		t.Errorf("error rows %+v", a.errs)
	}
}

func TestLoaderErrorRows(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/jpeg/ycc420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	corrupt := slices.Clone(good)
	for i := len(corrupt) / 3; i < len(corrupt)-2; i++ {
		corrupt[i] = 0xff
	}
	writeFiles(t, dir, map[string]string{
		"a_good.jpg":      string(good),
		"b_corrupt.jpg":   string(corrupt),
		"c_good.png":      "png:30x20",
		"d_truncated.jpg": string(good[:len(good)/2]),
		"e_empty.jpg":     "",
		"g_good.png":      "png:25x40",
		"manifest.csv": "path,label\n" + strings.Join([]string{
			"a_good.jpg,0", "b_corrupt.jpg,1", "c_good.png,0", "d_truncated.jpg,1", "e_empty.jpg,0", "f_missing.png,1", "g_good.png,1",
		}, "\n") + "\n",
		"space.txt": "neg\npos\n",
	})
	ds, err := Open(Config{Name: "m", Kind: KindManifest, Path: "manifest.csv", BaseDir: dir, Labels: "space.txt"})
	if err != nil {
		t.Fatal(err)
	}
	g := Geometry{Resize: 16, Height: 16, Width: 16}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, err := runLoader(t, &Loader{Workers: 3, BatchSize: 2, Mem: mem, Stage: "load-m"}, ds, g)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a_good.jpg", "c_good.png", "g_good.png"}; !slices.Equal(c.ids, want) || !slices.Equal(c.batchRows, []int{2, 1}) {
		t.Errorf("rows %v in batches %v, want %v in [2 1]", c.ids, c.batchRows, want)
	}
	if !slices.Equal(c.labels, []int32{0, 0, 1}) || !slices.Equal(c.names, []string{"neg", "neg", "pos"}) {
		t.Errorf("labels %v %v", c.labels, c.names)
	}
	for i, id := range c.ids {
		img, err := Decode(filepath.Join(dir, id))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Preprocess(img, g)
		if !slices.Equal(c.images[i], want) {
			t.Errorf("%s: image differs from Preprocess(Decode)", id)
		}
	}
	wantErrs := []struct{ path, reason string }{
		{"b_corrupt.jpg", "jpeg"},
		{"d_truncated.jpg", "truncated"},
		{"e_empty.jpg", "empty file"},
		{"f_missing.png", "no such file"},
	}
	if len(c.errs) != len(wantErrs) {
		t.Fatalf("error rows %+v, want %d", c.errs, len(wantErrs))
	}
	for i, w := range wantErrs {
		e := c.errs[i]
		if e.SampleID != w.path || !filepath.IsAbs(e.Path) || filepath.Base(e.Path) != w.path || e.Dataset != "m" || e.Stage != "load-m" ||
			!strings.Contains(e.Reason, w.reason) || !strings.Contains(e.Reason, w.path) {
			t.Errorf("error row %d = %+v, want sample id %s, its absolute path and a reason naming it and %q", i, e, w.path, w.reason)
		}
	}
}

func TestLoaderBoundedAndCancellable(t *testing.T) {
	ds := newRendered(t, 100000)
	ds.delay = func(int) time.Duration { return 200 * time.Microsecond }
	g := Geometry{Height: 8, Width: 8}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const workers, batch = 4, 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var emitted, startedAtFirst int64
	start := time.Now()
	var stoppedAt time.Time
	err := (&Loader{Workers: workers, BatchSize: batch, Mem: mem}).Run(ctx, ds, ds.Samples(), g, func(rec arrow.RecordBatch) error {
		defer rec.Release()
		emitted++
		if emitted == 1 {
			time.Sleep(20 * time.Millisecond) // a slow consumer: the pool must wait, not race ahead
			startedAtFirst = ds.calls.Load()
		}
		if emitted == 3 {
			stoppedAt = time.Now()
			cancel()
		}
		return nil
	}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if d := time.Since(stoppedAt); d > time.Second {
		t.Errorf("Run took %v to stop after cancel", d)
	}
	t.Logf("started at first emit: %d, total calls %d", startedAtFirst, ds.calls.Load())
	// At the first emit: the batch's 10 samples plus at most 2·workers+1 queued ahead.
	if limit := int64(batch + 2*workers + 2); startedAtFirst > limit {
		t.Errorf("%d samples started while the first batch was emitted, want ≤ %d", startedAtFirst, limit)
	}
	if calls := ds.calls.Load(); calls > 3*batch+3*workers+2 {
		t.Errorf("%d samples loaded for 3 batches of %d, in %v", calls, batch, time.Since(start))
	}
}

func TestLoaderEmitError(t *testing.T) {
	ds := newRendered(t, 50)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	boom := errors.New("sink full")
	n := 0
	err := (&Loader{Workers: 2, BatchSize: 4, Mem: mem}).Run(context.Background(), ds, ds.Samples(), Geometry{Height: 8, Width: 8},
		func(rec arrow.RecordBatch) error {
			rec.Release()
			n++
			if n == 2 {
				return boom
			}
			return nil
		}, nil)
	if !errors.Is(err, boom) || n != 2 {
		t.Errorf("Run returned %v after %d batches, want the emit error after 2", err, n)
	}
	if err := (&Loader{}).Run(context.Background(), ds, nil, Geometry{}, nil, nil); err == nil {
		t.Error("invalid geometry accepted")
	}
}

func TestLoaderDefaultsAndEmptyInput(t *testing.T) {
	ds := newRendered(t, 40)
	c, err := runLoader(t, &Loader{}, ds, Geometry{Height: 8, Width: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.batchRows, []int{DefaultBatchSize, 40 - DefaultBatchSize}) {
		t.Errorf("default batches %v", c.batchRows)
	}
	calls := 0
	err = (&Loader{}).Run(context.Background(), ds, nil, Geometry{Height: 8, Width: 8}, func(rec arrow.RecordBatch) error {
		rec.Release()
		calls++
		return nil
	}, nil)
	if err != nil || calls != 0 {
		t.Errorf("no samples: err %v, %d batches", err, calls)
	}
}

func TestSchema(t *testing.T) {
	g := Geometry{Resize: 256, Height: 224, Width: 200}
	for _, c := range []struct {
		cue  bool
		want []string
	}{
		{false, []string{arrowio.ColSampleID, arrowio.ColLabel, arrowio.ColLabelName, arrowio.ColImage}},
		{true, []string{arrowio.ColSampleID, arrowio.ColLabel, arrowio.ColLabelName, arrowio.ColShapeLabel, arrowio.ColTextureLabel, arrowio.ColImage}},
	} {
		s := Schema(c.cue, g)
		var names []string
		for _, f := range s.Fields() {
			names = append(names, f.Name)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("cue %v: columns %v, want %v", c.cue, names, c.want)
		}
		img, _ := arrowio.Field(s, arrowio.ColImage)
		if tt, ok := img.Type.(*arrowio.TensorType); !ok || !slices.Equal(tt.Shape(), []int{3, 224, 200}) {
			t.Errorf("image type %s", img.Type)
		}
	}
}

// BenchmarkLoadImagenetSample measures decode + preprocess (resize 256, crop 224) of the 500 shared
// ImageNet JPEGs with GOMAXPROCS workers, in images per second.
func BenchmarkLoadImagenetSample(b *testing.B) {
	needShared(b, "imagenet-sample")
	ds, err := Open(Config{Name: "sample", Kind: KindImageFolder, Path: "imagenet-sample", BaseDir: sharedData})
	if err != nil {
		b.Fatal(err)
	}
	samples := ds.Samples()
	l := &Loader{Workers: runtime.GOMAXPROCS(0), BatchSize: 32}
	g := Geometry{Resize: 256, Height: 224, Width: 224}
	images := 0
	for b.Loop() {
		err := l.Run(context.Background(), ds, samples, g, func(rec arrow.RecordBatch) error {
			images += int(rec.NumRows())
			rec.Release()
			return nil
		}, func(e arrowio.ErrorRow) { b.Errorf("error row %+v", e) })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}
