//go:build cgo && !nolibjpeg

package load

import (
	"slices"
	"testing"
)

// TestDecompressorAfterRefusal: an image smaller than the crop is refused after libjpeg read its header;
// the decompressor, then the only one in the pool, must decode the next image as a fresh one would.
func TestDecompressorAfterRefusal(t *testing.T) {
	needWindowed(t)
	kept := decompressors
	defer func() { decompressors = kept }()
	decompressors = newDecompressors()
	g, f := Geometry{Resize: 16, Height: 8, Width: 8}, "testdata/jpeg/ycc420.jpg"
	want := make([]float32, 3*g.Height*g.Width)
	if err := (DecodeOptions{}).PreprocessFile(want, f, g); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		err := DecodeOptions{}.PreprocessFile(make([]float32, 3*500*500), f, Geometry{Height: 500, Width: 500})
		checkErr(t, "too small", err, "load: preprocess "+f, "smaller than the crop 500x500")
		if len(decompressors.free) != 1 {
			t.Fatalf("%d decompressors in the pool, want the one used", len(decompressors.free))
		}
		got := make([]float32, len(want))
		if err := (DecodeOptions{}).PreprocessFile(got, f, g); err != nil {
			t.Fatalf("the decode after a refused image: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Fatal("the decode after a refused image differs")
		}
	}
}
