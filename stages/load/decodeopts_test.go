package load

import (
	"image"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestDecodeMode(t *testing.T) {
	g := Geometry{Resize: 256, Height: 224, Width: 224}
	draftErr := "" // draft needs libjpeg-turbo: the fallback build refuses it rather than decode in full
	if !exactJPEG() {
		draftErr = "needs libjpeg-turbo"
		_, err := DecodeOptions{DraftSide: 8}.Decode("testdata/jpeg/ycc420.jpg")
		checkErr(t, "fallback draft", err, "ycc420.jpg", "draft decoding needs libjpeg-turbo")
	}
	for _, c := range []struct {
		mode string
		g    Geometry
		want DecodeOptions
		err  string
	}{
		{"", g, DecodeOptions{}, ""},
		{"exact", g, DecodeOptions{}, ""},
		{"draft", g, DecodeOptions{DraftSide: 256}, draftErr},
		{"draft", Geometry{Height: 224, Width: 224}, DecodeOptions{}, "needs a geometry that resizes"},
		{"fast", g, DecodeOptions{}, `unknown decode mode "fast"`},
	} {
		got, err := DecodeMode(c.mode, c.g)
		if c.err != "" {
			checkErr(t, c.mode, err, c.err)
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("DecodeMode(%q) = %+v, %v; want %+v", c.mode, got, err, c.want)
		}
	}
}

// TestDraftSize checks PIL's draft arithmetic: scale = min(w // side, h // side), the largest of 8, 4, 2, 1
// not above it, sides rounded up.
func TestDraftSize(t *testing.T) {
	for _, c := range []struct {
		side, w, h int
		want       image.Point
	}{
		{0, 500, 375, image.Pt(500, 375)},   // off
		{256, 500, 375, image.Pt(500, 375)}, // 1
		{256, 1024, 511, image.Pt(1024, 511)},
		{256, 1024, 512, image.Pt(512, 256)},    // 2
		{256, 1500, 1100, image.Pt(375, 275)},   // min(5, 4) = 4
		{256, 1500, 800, image.Pt(750, 400)},    // min(5, 3) = 3 → 2
		{256, 3000, 2049, image.Pt(375, 257)},   // min(11, 8) = 8: ceil(2049/8) = 257
		{256, 9000, 9000, image.Pt(1125, 1125)}, // 35 → 8 is the largest reduction
		{256, 200, 100, image.Pt(200, 100)},     // smaller than the side: untouched
	} {
		w, h := DecodeOptions{DraftSide: c.side}.draftSize(c.w, c.h)
		if image.Pt(w, h) != c.want {
			t.Errorf("draft %d of %dx%d = %dx%d, want %v", c.side, c.w, c.h, w, h, c.want)
		}
	}
}

// TestPreprocessFileReusesSafely: PreprocessFile, which reuses its file and pixel buffers, gives the
// same tensors as Decode + PreprocessInto for images of changing sizes and kinds in any order, and
// reports errors naming the file.
func TestPreprocessFileReusesSafely(t *testing.T) {
	g := Geometry{Resize: 16, Height: 16, Width: 16}
	files := []string{"testdata/draft/ycc420.jpg", "testdata/jpeg/ycc420.jpg", "testdata/jpeg/grey.jpg",
		"testdata/golden/noise37x23.png", "testdata/draft/cmyk.jpg", "testdata/jpeg/ycck.jpg", "testdata/draft/ycc420.jpg"}
	opts := []DecodeOptions{{}}
	if exactJPEG() {
		opts = append(opts, DecodeOptions{DraftSide: 35}) // draft needs libjpeg-turbo
	}
	for _, o := range opts {
		out := make([]float32, 3*16*16)
		for round := range 2 {
			for _, f := range files {
				img, err := o.Decode(f)
				if err != nil {
					t.Fatal(err)
				}
				want, err := Preprocess(img, g)
				if err != nil {
					t.Fatal(err)
				}
				if err := o.PreprocessFile(out, f, g); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(out, want) {
					t.Errorf("draft %d, round %d, %s: PreprocessFile differs from Decode + Preprocess", o.DraftSide, round, f)
				}
			}
		}
	}
	err := DecodeOptions{}.PreprocessFile(make([]float32, 3*16*16), "testdata/missing.jpg", g)
	checkErr(t, "missing", err, "testdata/missing.jpg", "no such file")
	err = DecodeOptions{}.PreprocessFile(make([]float32, 5), files[0], g)
	checkErr(t, "short output", err, "output holds 5 values", "needs 768")
}

// TestLoaderDecodeMode: Loader.Decode "draft" yields draft-decoded tensors for file datasets (different from
// exact ones where the image is large enough to reduce), "" and "exact" the exact ones, and a bad mode stops Run.
func TestLoaderDecodeMode(t *testing.T) {
	dir := t.TempDir()
	big, err := os.ReadFile("testdata/draft/ycc420.jpg") // 203×141: draft 35 reduces it by 4
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"big.jpg": string(big), "small.png": "png:30x20",
		"manifest.csv": "path,label\nbig.jpg,0\nsmall.png,1\n", "space.txt": "a\nb\n"})
	ds, err := Open(Config{Name: "m", Kind: KindManifest, Path: "manifest.csv", BaseDir: dir, Labels: "space.txt"})
	if err != nil {
		t.Fatal(err)
	}
	g := Geometry{Resize: 35, Height: 32, Width: 32}
	modes := []string{"", DecodeExact}
	if exactJPEG() {
		modes = append(modes, DecodeDraft)
	}
	for _, mode := range modes {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		c, err := runLoader(t, &Loader{Workers: 2, Mem: mem, Decode: mode}, ds, g)
		mem.AssertSize(t, 0)
		if err != nil {
			t.Fatalf("decode %q: %v", mode, err)
		}
		opts, _ := DecodeMode(mode, g)
		for i, id := range c.ids {
			img, err := opts.Decode(filepath.Join(dir, id))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Preprocess(img, g)
			exact, _ := Preprocess(mustDecode(Decode(filepath.Join(dir, id))), g)
			if !slices.Equal(c.images[i], want) {
				t.Errorf("decode %q, %s: tensor differs from Preprocess(%+v.Decode)", mode, id, opts)
			}
			if reduced, same := mode == DecodeDraft && id == "big.jpg", slices.Equal(c.images[i], exact); reduced == same {
				t.Errorf("decode %q, %s: tensor equal to the exact one: %v, want %v", mode, id, same, !reduced)
			}
		}
	}
	_, err = runLoader(t, &Loader{Decode: "fast"}, ds, g)
	checkErr(t, "bad mode", err, `unknown decode mode "fast"`)
}

// mustDecode returns img, panicking on err.
func mustDecode(img *image.RGBA, err error) *image.RGBA {
	if err != nil {
		panic(err)
	}
	return img
}
