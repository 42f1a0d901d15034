package load

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// needWindowed skips the test unless this build and machine decode JPEG windows (libjpeg62-turbo and
// its header).
func needWindowed(t testing.TB) {
	t.Helper()
	if !exactJPEG() {
		t.Skipf("windowed decoding needs libjpeg-turbo; this process decodes with %s", Decoder())
	}
	if _, _, ok, _ := jpegWindow([]byte{0xff, 0xd8, 0xff, 0xd9}, DecodeOptions{}, nil, nil); !ok {
		t.Skip("windowed decoding unavailable: libjpeg.so.62 or, at build time, jpeglib.h (libjpeg62-turbo-dev) is missing")
	}
}

// windowOf decodes the window that resize + crop to g read from path, and the whole image as Decode
// does, and reports where they differ inside that window.
func windowOf(t *testing.T, path string, o DecodeOptions, g Geometry) (win image.Rectangle, differ int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	full, err := o.DecodeBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	r := new(resampler)
	img, size, ok, err := jpegWindow(data, o, nil, func(w, h int) (image.Rectangle, error) {
		win, err = r.planCrop(w, h, g)
		return win, err
	})
	if !ok || err != nil {
		t.Fatalf("%s: windowed decode: ok %v, %v", path, ok, err)
	}
	if size != full.Rect.Size() {
		t.Fatalf("%s: windowed decode of a %v image, the full decode is %v", path, size, full.Rect.Size())
	}
	if !win.In(img.Rect) {
		t.Fatalf("%s: decoded %v, which does not cover the window %v", path, img.Rect, win)
	}
	for y := win.Min.Y; y < win.Max.Y; y++ {
		for x := win.Min.X; x < win.Max.X; x++ {
			a, b := img.PixOffset(x, y), full.PixOffset(x, y)
			if !slices.Equal(img.Pix[a:a+3], full.Pix[b:b+3]) {
				differ++
			}
		}
	}
	return win, differ
}

// TestWindowedDecodeEqualsFull: inside the window resize + crop read, the windowed decode equals the
// full decode pixel for pixel, for every kind of JPEG the test data has (4:2:0, 4:2:2, 4:4:4,
// progressive, greyscale, CMYK, YCCK), exact and draft, for geometries whose windows touch no edge, some
// edges, or all of them; and PreprocessFile (which decodes windows) equals Decode + Preprocess.
func TestWindowedDecodeEqualsFull(t *testing.T) {
	needWindowed(t)
	files, _ := filepath.Glob("testdata/jpeg/*.jpg")
	draft, _ := filepath.Glob("testdata/draft/*.jpg")
	files = append(files, draft...)
	if len(files) < 10 {
		t.Fatalf("%d test JPEGs, want the 13 of testdata", len(files))
	}
	geos := []Geometry{
		{Resize: 16, Height: 8, Width: 8},    // downscaled, window inside the image
		{Resize: 40, Height: 24, Width: 24},  // little downscaling
		{Height: 12, Width: 20},              // crop only
		{Resize: 64, Height: 64, Width: 64},  // a square crop of the short side
		{Resize: 300, Height: 40, Width: 40}, // upscaled
	}
	interior := 0
	for _, f := range files {
		for _, o := range []DecodeOptions{{}, {DraftSide: 20}} {
			for _, g := range geos {
				name := fmt.Sprintf("%s draft %d %s", filepath.Base(f), o.DraftSide, g.Key())
				img, err := o.Decode(f)
				if err != nil {
					t.Fatal(err)
				}
				want, err := Preprocess(img, g)
				if err != nil {
					continue // smaller than the crop: the error paths are tested below
				}
				win, differ := windowOf(t, f, o, g)
				if differ > 0 {
					t.Errorf("%s: %d pixels of the window %v differ from the full decode", name, differ, win)
				}
				if win.Min.X > 0 && win.Min.Y > 0 && win.Max.X < img.Rect.Dx() && win.Max.Y < img.Rect.Dy() {
					interior++
				}
				got := make([]float32, len(want))
				if err := o.PreprocessFile(got, f, g); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: PreprocessFile differs from Decode + Preprocess", name)
				}
			}
		}
	}
	if interior < 10 {
		t.Errorf("only %d windows lie inside their image: the crop and skip paths are barely exercised", interior)
	}

	err := DecodeOptions{}.PreprocessFile(make([]float32, 3*500*500), "testdata/jpeg/ycc420.jpg", Geometry{Height: 500, Width: 500})
	checkErr(t, "too small", err, "load: preprocess testdata/jpeg/ycc420.jpg", "smaller than the crop 500x500")
}

// TestWindowedDecodeMatchesPIL: the load stage's tensors of all 500 imagenet-sample JPEGs, which it
// decodes only where Resize(256) + CenterCrop(224) read them, equal PIL's crops byte for byte, exact
// and with draft; and the decoded windows equal the full decode inside them.
func TestWindowedDecodeMatchesPIL(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 1,000 images with Go and PIL (-short)")
	}
	needWindowed(t)
	for _, draft := range []bool{false, true} {
		t.Run(fmt.Sprintf("draft=%v", draft), func(t *testing.T) {
			files, g, refs, _ := sampleComparison(t, draft)
			o := DecodeOptions{}
			if draft {
				o.DraftSide = g.Resize
			}
			out := make([]float32, 3*g.Height*g.Width)
			want := make([]float32, len(out))
			off, cropped := 0, 0
			for i, f := range files {
				if err := o.PreprocessFile(out, f, g); err != nil {
					t.Fatal(err)
				}
				toPlanes(want, refs[i].crop)
				if !slices.Equal(out, want) {
					off++
				}
				win, differ := windowOf(t, f, o, g)
				if differ > 0 {
					t.Errorf("%s: %d pixels of the window %v differ from the full decode", filepath.Base(f), differ, win)
				}
				if win.Size() != refs[i].size {
					cropped++
				}
			}
			if off > 0 {
				t.Errorf("%d of %d tensors differ from PIL's crops", off, len(files))
			}
			if cropped < len(files)/2 {
				t.Errorf("only %d of %d windows are smaller than the image", cropped, len(files))
			}
		})
	}
}
