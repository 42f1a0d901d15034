package load

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/stages/labels"
)

// writeFiles creates files (path → content) under dir; content "png:WxH" writes a w×h PNG whose pixels
// depend on the path, so that every image differs.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(content)
		var w, h int
		if _, err := fmt.Sscanf(content, "png:%dx%d", &w, &h); err == nil {
			data = pngBytes(t, w, h, len(name)*7+int(name[0]))
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pngBytes encodes a w×h RGB test pattern seeded by seed.
func pngBytes(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x*13 + seed), uint8(y*29 + seed*3), uint8((x ^ y) * 7), 255})
		}
	}
	var b strings.Builder
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// checkErr asserts err is an error whose text mentions every one of want.
func checkErr(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", what, err, w)
		}
	}
}

// ids lists the samples' IDs.
func ids(s []Sample) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.ID
	}
	return out
}

// checkOrder asserts samples are sorted by ID and numbered by position.
func checkOrder(t *testing.T, s []Sample) {
	t.Helper()
	if !slices.IsSorted(ids(s)) {
		t.Errorf("samples not sorted by ID: %v", ids(s))
	}
	for i, x := range s {
		if x.Index != i {
			t.Fatalf("sample %d has Index %d", i, x.Index)
		}
	}
}

func TestImageFolderImageNetSample(t *testing.T) {
	needShared(t, "imagenet-sample")
	wnidFile, err := os.Open(filepath.Join(sharedData, "imagenet1k_wnids.txt"))
	if err != nil {
		t.Skipf("wnid list absent: %v", err)
	}
	defer wnidFile.Close()
	var wnids []string
	for sc := bufio.NewScanner(wnidFile); sc.Scan(); {
		wnids = append(wnids, sc.Text())
	}
	ds, err := Open(Config{Name: "sample", Kind: KindImageFolder, Path: "imagenet-sample", BaseDir: sharedData})
	if err != nil {
		t.Fatal(err)
	}
	s := ds.Samples()
	if len(s) != 500 || ds.Labels().Len() != 1000 || ds.CueConflict() || ds.Kind() != KindImageFolder || ds.Name() != "sample" {
		t.Fatalf("%d samples, %d classes, cue-conflict %v, kind %q, name %q", len(s), ds.Labels().Len(), ds.CueConflict(), ds.Kind(), ds.Name())
	}
	checkOrder(t, s)
	for i, x := range s {
		// Every second class, in sorted-wnid order: sample i is class 2i, whose wnid starts the file name.
		if x.Label != int32(2*i) || !strings.HasPrefix(x.ID, wnids[x.Label]+"_") {
			t.Fatalf("sample %d %s: label %d, want %d (%s)", i, x.ID, x.Label, 2*i, wnids[2*i])
		}
		if x.LabelName != ds.Labels().ClassName(int(x.Label)) || x.Shape != -1 || x.Texture != -1 {
			t.Fatalf("sample %s: label name %q shape %d texture %d", x.ID, x.LabelName, x.Shape, x.Texture)
		}
		if !filepath.IsAbs(x.Path) || filepath.Base(x.Path) != x.ID {
			t.Fatalf("sample %s: path %q", x.ID, x.Path)
		}
	}
	if s[0].LabelName != "tench, Tinca tinca" {
		t.Errorf("first label name %q", s[0].LabelName)
	}
}

func TestImageFolderFoolboxPattern(t *testing.T) {
	needShared(t, "foolbox-imagenet")
	ds, err := Open(Config{Name: "fb", Kind: KindImageFolder, Path: "foolbox-imagenet", BaseDir: sharedData,
		Params: map[string]any{ParamLabelPattern: `^imagenet_\d+_(\d+)\.jpg$`}})
	if err != nil {
		t.Fatal(err)
	}
	s := ds.Samples()
	if len(s) != 20 {
		t.Fatalf("%d samples, want 20", len(s))
	}
	for _, x := range s {
		var idx, label int
		if _, err := fmt.Sscanf(x.ID, "imagenet_%d_%d.jpg", &idx, &label); err != nil || x.Label != int32(label) {
			t.Errorf("%s: label %d, want %d (%v)", x.ID, x.Label, label, err)
		}
	}
}

func TestCueConflictStimuli(t *testing.T) {
	needShared(t, "cue-conflict")
	for _, c := range []struct {
		path           string
		n, same, noTex int
	}{
		{"cue-conflict/style-transfer-preprocessed-512", 1280, 80, 0},
		{"cue-conflict/edges", 160, 0, 160},
		{"cue-conflict/filled-silhouettes", 160, 0, 160},
	} {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			ds, err := Open(Config{Name: "cc", Kind: KindCueConflict, Path: c.path, BaseDir: sharedData})
			if err != nil {
				t.Fatal(err)
			}
			s := ds.Samples()
			checkOrder(t, s)
			if !ds.CueConflict() || ds.Labels().Len() != 16 {
				t.Fatalf("cue-conflict %v, %d categories, want true, 16", ds.CueConflict(), ds.Labels().Len())
			}
			same, noTex, perShape := 0, 0, map[int32]int{}
			for _, x := range s {
				folder, _, _ := strings.Cut(x.ID, "/")
				if x.Label != x.Shape || ds.Labels().ClassName(int(x.Shape)) != folder || x.LabelName != folder {
					t.Fatalf("%s: label %d shape %d (%s)", x.ID, x.Label, x.Shape, x.LabelName)
				}
				if x.Texture == -1 {
					noTex++
				} else if tex := ds.Labels().ClassName(int(x.Texture)); !strings.Contains(x.ID, "-"+tex) {
					t.Fatalf("%s: texture %d (%s) not in the file name", x.ID, x.Texture, tex)
				}
				if x.Shape == x.Texture {
					same++
				}
				perShape[x.Shape]++
			}
			if len(s) != c.n || same != c.same || noTex != c.noTex || len(perShape) != 16 {
				t.Errorf("%d samples, %d shape==texture, %d without texture, %d shapes; want %d, %d, %d, 16",
					len(s), same, noTex, len(perShape), c.n, c.same, c.noTex)
			}
		})
	}
}

func TestImageFolderLayouts(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"classes/zebra/b.png":      "png:4x4",
		"classes/zebra/sub/a.PNG":  "png:4x4",
		"classes/apple/x.jpg":      "not really a jpeg",
		"classes/apple/notes.txt":  "ignored",
		"classes/.hidden/z.png":    "png:4x4",
		"classes/mango/empty.jpeg": "",
		"flat/n01443537_gold.JPEG": "png:4x4",
		"flat/n01440764_tench.png": "png:4x4",
		"flat/README":              "ignored",
		"mixed/a/x.png":            "png:4x4",
		"mixed/y.png":              "png:4x4",
		"nolabel/fish.png":         "png:4x4",
		"empty/readme.txt":         "no images",
		"classes.txt":              "zebra\nmango\napple\n",
		"pattern/img_3_2.png":      "png:4x4",
		"pattern/img_4_apple.png":  "png:4x4",
		"badpattern/img_1_99.png":  "png:4x4",
		"namelist.txt":             "apple\nmango\nzebra\n",
	})
	open := func(path, labelSpec string, params map[string]any) (Dataset, error) {
		return Open(Config{Name: "t", Kind: KindImageFolder, Path: path, BaseDir: dir, Labels: labelSpec, Params: params})
	}

	ds, err := open("classes", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ds.Samples()
	checkOrder(t, got)
	wantIDs := []string{"apple/x.jpg", "mango/empty.jpeg", "zebra/b.png", "zebra/sub/a.PNG"}
	wantLabels := []int32{0, 1, 2, 2}
	if !slices.Equal(ids(got), wantIDs) {
		t.Fatalf("ids %v, want %v", ids(got), wantIDs)
	}
	for i, x := range got {
		if x.Label != wantLabels[i] {
			t.Errorf("%s: label %d, want %d", x.ID, x.Label, wantLabels[i])
		}
	}

	// With a label space the folder names are looked up in it.
	ds, err = open("classes", "classes.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ds.Samples() {
		if want := map[string]int32{"zebra": 0, "mango": 1, "apple": 2}[strings.Split(x.ID, "/")[0]]; x.Label != want {
			t.Errorf("%s with classes.txt: label %d, want %d", x.ID, x.Label, want)
		}
	}

	ds, err = open("flat", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := ds.Samples(); ds.Labels().Name != labels.ImageNet1k || len(s) != 2 || s[0].Label != 0 || s[1].Label != 1 || s[1].LabelName != "goldfish, Carassius auratus" {
		t.Errorf("flat folder: %+v", s)
	}

	ds, err = open("pattern", "namelist.txt", map[string]any{ParamLabelPattern: `^img_\d+_(\w+)\.png$`})
	if err != nil {
		t.Fatal(err)
	}
	if s := ds.Samples(); len(s) != 2 || s[0].Label != 2 || s[1].Label != 0 || s[1].LabelName != "apple" {
		t.Errorf("pattern: %+v", s) // index 2 = zebra; the name apple = index 0
	}

	for _, c := range []struct {
		name, path, labels string
		params             map[string]any
		want               []string
	}{
		{"missing", "nope", "", nil, []string{`"t"`, "nope", "no such file"}},
		{"mixed", "mixed", "", nil, []string{"mixes class sub-folders", "a", "y.png"}},
		{"no images", "empty", "", nil, []string{"holds no images"}},
		{"no wnid", "nolabel", "", nil, []string{"fish.png", "WordNet id"}},
		{"folder not in space", "classes", "imagenet1k", nil, []string{`"apple"`, "imagenet1k"}},
		{"index out of range", "badpattern", "namelist.txt", map[string]any{ParamLabelPattern: `_(\d+)\.png`}, []string{"img_1_99.png", "99", "3 classes"}},
		{"pattern without group", "pattern", "", map[string]any{ParamLabelPattern: `img`}, []string{"exactly one capture group"}},
		{"pattern not a string", "pattern", "", map[string]any{ParamLabelPattern: 3}, []string{"want a string"}},
		{"pattern on class folders", "classes", "", map[string]any{ParamLabelPattern: `(x)`}, []string{"flat folder"}},
		{"pattern no match", "pattern", "", map[string]any{ParamLabelPattern: `^zzz(\d)`}, []string{"img_3_2.png", "does not match"}},
	} {
		_, err := open(c.path, c.labels, c.params)
		checkErr(t, c.name, err, c.want...)
	}
}

func TestCueConflictErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"ok/cat/cat1-dog2.png":         "png:4x4",
		"ok/dog/dog3-cat1.png":         "png:4x4",
		"ok/dog/dog7.png":              "png:4x4",
		"wrongshape/cat/dog1-cat1.png": "png:4x4",
		"badtexture/cat/cat1-cow1.png": "png:4x4",
		"badname/cat/picture.png":      "png:4x4",
		"flat/cat1.png":                "png:4x4",
	})
	ds, err := Open(Config{Name: "cc", Kind: KindCueConflict, Path: "ok", BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{
		{Index: 0, ID: "cat/cat1-dog2.png", Label: 0, LabelName: "cat", Shape: 0, Texture: 1},
		{Index: 1, ID: "dog/dog3-cat1.png", Label: 1, LabelName: "dog", Shape: 1, Texture: 0},
		{Index: 2, ID: "dog/dog7.png", Label: 1, LabelName: "dog", Shape: 1, Texture: -1},
	}
	got := ds.Samples()
	for i := range got {
		got[i].Path = ""
	}
	if !slices.Equal(got, want) {
		t.Errorf("samples %+v, want %+v", got, want)
	}
	for _, c := range []struct{ path, want string }{
		{"wrongshape", "differs from its folder"},
		{"badtexture", `category "cow"`},
		{"badname", "picture.png"},
		{"flat", "no category folders"},
	} {
		_, err := Open(Config{Name: "cc", Kind: KindCueConflict, Path: c.path, BaseDir: dir})
		checkErr(t, c.path, err, c.want)
	}
}

func TestManifest(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"imgs/a.png":     "png:4x4",
		"imgs/b.png":     "png:4x4",
		"names.csv":      "path,label,comment\nimgs/b.png,dog,x\n imgs/a.png , cat ,y\n",
		"indices.csv":    "\ufefflabel,path\n2,imgs/a.png\n0,imgs/b.png\n",
		"space.txt":      "n0\nn1\nn2\n",
		"noheader.csv":   "imgs/a.png,1\n",
		"badlabel.csv":   "path,label\nimgs/a.png,0\nimgs/b.png,7\n",
		"ragged.csv":     "path,label\nimgs/a.png,0\nimgs/b.png\n",
		"emptyval.csv":   "path,label\nimgs/a.png,\n",
		"dup.csv":        "path,label\nimgs/a.png,0\n./imgs/a.png,1\n",
		"idxnospace.csv": "path,label\nimgs/a.png,0\n",
		"list.txt":       "imgs/a.png 0\n",
	})
	open := func(path, labelSpec string) (Dataset, error) {
		return Open(Config{Name: "m", Kind: KindManifest, Path: path, BaseDir: dir, Labels: labelSpec})
	}
	ds, err := open("names.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	s := ds.Samples()
	if len(s) != 2 || s[0].ID != "imgs/a.png" || s[0].LabelName != "cat" || s[0].Label != 0 || s[1].Label != 1 ||
		s[0].Path != filepath.Join(dir, "imgs/a.png") {
		t.Errorf("names.csv: %+v", s)
	}
	// Absolute paths outside the manifest's folder: ids relative to the deepest folder holding them.
	elsewhere := t.TempDir()
	writeFiles(t, elsewhere, map[string]string{"val/n01/x.png": "png:4x4", "val/n02/y.png": "png:4x4"})
	abs := "path,label\n" + filepath.Join(elsewhere, "val/n02/y.png") + ",n02\n" + filepath.Join(elsewhere, "val/n01/x.png") + ",n01\n"
	if err := os.WriteFile(filepath.Join(dir, "abs.csv"), []byte(abs), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err = open("abs.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	if s := ds.Samples(); len(s) != 2 || s[0].ID != "n01/x.png" || s[1].ID != "n02/y.png" || s[0].Path != filepath.Join(elsewhere, "val/n01/x.png") {
		t.Errorf("abs.csv: ids %+v, want n01/x.png and n02/y.png", s)
	}
	ds, err = open("indices.csv", "space.txt")
	if err != nil {
		t.Fatal(err)
	}
	if s := ds.Samples(); len(s) != 2 || s[0].Label != 2 || s[0].LabelName != "n2" || s[1].Label != 0 {
		t.Errorf("indices.csv: %+v", s)
	}

	// Parquet, with an integer and a string label column.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, c := range []struct {
		name    string
		typ     arrow.DataType
		label   func(b array.Builder, i int)
		wantErr string
	}{
		{"int.parquet", arrow.PrimitiveTypes.Int64, func(b array.Builder, i int) { b.(*array.Int64Builder).Append(int64(2 - 2*i)) }, ""},
		{"str.parquet", arrow.BinaryTypes.String, func(b array.Builder, i int) { b.(*array.StringBuilder).Append([]string{"n2", "n0"}[i]) }, ""},
		{"neg.parquet", arrow.PrimitiveTypes.Int8, func(b array.Builder, i int) { b.(*array.Int8Builder).Append(int8(-i)) }, "neg.parquet row 2: column label: negative label index -1"},
		{"float.parquet", arrow.PrimitiveTypes.Float32, func(b array.Builder, i int) { b.(*array.Float32Builder).Append(1) }, "float.parquet row 1: column label: type float32 is not integer or string"},
	} {
		schema := arrow.NewSchema([]arrow.Field{{Name: "label", Type: c.typ}, {Name: "path", Type: arrow.BinaryTypes.String}, {Name: "extra", Type: arrow.PrimitiveTypes.Float64}}, nil)
		b := array.NewRecordBuilder(mem, schema)
		for i, p := range []string{"imgs/a.png", "imgs/b.png"} {
			c.label(b.Field(0), i)
			b.Field(1).(*array.StringBuilder).Append(p)
			b.Field(2).(*array.Float64Builder).Append(1.5)
		}
		rec := b.NewRecordBatch()
		b.Release()
		err := pqfile.WriteParquet(filepath.Join(dir, c.name), schema, []arrow.RecordBatch{rec}, mem)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		ds, err := open(c.name, "space.txt")
		if c.wantErr != "" {
			checkErr(t, c.name, err, c.wantErr)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if s := ds.Samples(); len(s) != 2 || s[0].ID != "imgs/a.png" || s[0].Label != 2 || s[1].Label != 0 {
			t.Errorf("%s: %+v", c.name, s)
		}
	}
	nopath := arrow.NewSchema([]arrow.Field{{Name: "label", Type: arrow.PrimitiveTypes.Int32}}, nil)
	nb := array.NewRecordBuilder(mem, nopath)
	nb.Field(0).(*array.Int32Builder).Append(1)
	rec := nb.NewRecordBatch()
	nb.Release()
	if err := pqfile.WriteParquet(filepath.Join(dir, "nopath.parquet"), nopath, []arrow.RecordBatch{rec}, mem); err != nil {
		t.Fatal(err)
	}
	rec.Release()

	for _, c := range []struct {
		path, labels string
		want         []string
	}{
		{"noheader.csv", "", []string{"noheader.csv:1", `"path" and "label"`}},
		{"badlabel.csv", "space.txt", []string{"badlabel.csv:3", "index 7 is out of range"}},
		{"ragged.csv", "", []string{"ragged.csv", "line 3", "wrong number of fields"}},
		{"emptyval.csv", "", []string{"emptyval.csv:2", "empty"}},
		{"dup.csv", "space.txt", []string{"imgs/a.png", "listed twice"}},
		{"idxnospace.csv", "", []string{"idxnospace.csv:2", "needs a label space"}},
		{"list.txt", "", []string{"list.txt", "neither .csv nor .parquet"}},
		{"nopath.parquet", "", []string{"nopath.parquet", `no column "path"`}},
		{"absent.csv", "", []string{`"m"`, "absent.csv", "no such file"}},
	} {
		_, err := open(c.path, c.labels)
		checkErr(t, c.path, err, c.want...)
	}
}

func TestLimitSubset(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 40 {
		files[fmt.Sprintf("c%d/img%02d.png", i%3, i)] = "x"
	}
	writeFiles(t, dir, files)
	open := func(limit int, seed uint64) []Sample {
		ds, err := Open(Config{Name: "l", Kind: KindImageFolder, Path: ".", BaseDir: dir, Limit: limit, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Labels().Len() != 3 || ds.Kind() != KindImageFolder {
			t.Fatalf("subset lost the dataset's identity: %d classes, kind %q", ds.Labels().Len(), ds.Kind())
		}
		return ds.Samples()
	}
	all := open(0, 1)
	a, b, c := open(10, 1), open(10, 1), open(10, 2)
	if len(all) != 40 || len(a) != 10 {
		t.Fatalf("sizes %d and %d, want 40 and 10", len(all), len(a))
	}
	checkOrder(t, a)
	if !slices.Equal(a, b) {
		t.Error("same seed gave different subsets")
	}
	if slices.Equal(ids(a), ids(c)) {
		t.Error("seeds 1 and 2 gave the same subset")
	}
	for _, x := range a {
		if !slices.Contains(ids(all), x.ID) {
			t.Errorf("subset sample %s is not in the dataset", x.ID)
		}
	}
	if got := open(40, 1); !slices.Equal(got, all) {
		t.Error("limit = size should keep every sample")
	}
	if _, err := Open(Config{Name: "l", Kind: KindImageFolder, Path: ".", BaseDir: dir, Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
}

func TestRegistry(t *testing.T) {
	kinds := Kinds()
	for _, k := range []string{KindCueConflict, KindImageFolder, KindManifest} {
		if !slices.Contains(kinds, k) {
			t.Errorf("kind %q not registered: %v", k, kinds)
		}
	}
	if !slices.IsSorted(kinds) {
		t.Errorf("Kinds() not sorted: %v", kinds)
	}
	if err := Register(KindImageFolder, openImageFolder); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("duplicate registration: %v", err)
	}
	if err := Register("", openImageFolder); err == nil {
		t.Error("empty kind accepted")
	}
	if _, err := Open(Config{Name: "x", Kind: "no-such-kind"}); err == nil || !strings.Contains(err.Error(), "imagefolder") {
		t.Errorf("unknown kind: error %v should list the known kinds", err)
	}
}
