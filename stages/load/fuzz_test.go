package load

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder wrapper (JPEG through libjpeg-turbo or Go, PNG through
// Go, exact and with draft): it must return an opaque image of the size the header declares, or an error
// that names what is wrong without quoting the content, never panic. `go test` runs the committed corpus
// (testdata/fuzz/FuzzDecode) and the seeds below; `go test -fuzz FuzzDecode` explores further.
func FuzzDecode(f *testing.F) {
	for _, dir := range []string{"testdata/jpeg", "testdata/golden"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil && len(data) < 8<<10 && !strings.HasSuffix(p, ".want.png") {
				f.Add(data)
			}
		}
	}
	defer func(n int) { maxPixels = n }(maxPixels)
	maxPixels = 1 << 20 // a fuzzed header may claim any size: keep each allocation small
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, o := range []DecodeOptions{{}, {DraftSide: 7}} {
			fuzzWindow(t, data, o)
			img, err := o.DecodeBytes(data)
			if err != nil {
				msg := err.Error()
				if len(data) >= 8 && !bytes.HasPrefix(data, []byte{0xff, 0xd8}) && !bytes.HasPrefix(data, []byte("\x89PNG")) &&
					strings.Contains(msg, string(data[:8])) {
					t.Fatalf("error %q quotes the content", msg)
				}
				continue
			}
			w, h := img.Rect.Dx(), img.Rect.Dy()
			if w <= 0 || h <= 0 || w*h > maxPixels || len(img.Pix) != 4*w*h || img.Stride != 4*w || img.Rect.Min.X != 0 || img.Rect.Min.Y != 0 {
				t.Fatalf("decoded %v, stride %d, %d bytes: not an opaque RGBA at the origin", img.Rect, img.Stride, len(img.Pix))
			}
			for i := 3; i < len(img.Pix); i += 4 {
				if img.Pix[i] != 255 {
					t.Fatalf("pixel %d has alpha %d", i/4, img.Pix[i])
				}
			}
		}
	})
}

// fuzzWindow decodes data (given the EOI marker windowed decoding asks for) only where a resize and
// crop read it: that must not fail otherwise than with an error, and where the full decode of the same
// bytes succeeds too, the crops must be equal.
func fuzzWindow(t *testing.T, data []byte, o DecodeOptions) {
	if !bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}) {
		return
	}
	if !bytes.HasSuffix(data, []byte{0xff, 0xd9}) {
		data = append(bytes.Clone(data), 0xff, 0xd9)
	}
	g := Geometry{Resize: 9, Height: 6, Width: 6}
	r := new(resampler)
	img, _, ok, err := jpegWindow(data, o, nil, func(w, h int) (image.Rectangle, error) { return r.planCrop(w, h, g) })
	if !ok || err != nil {
		return
	}
	got := r.applyCrop(img)
	full, err := o.DecodeBytes(data)
	if err != nil {
		return
	}
	want, err := resizeCropImage(full, g)
	if err != nil {
		t.Fatalf("the window's plan succeeded, the full decode's preprocessing failed: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("windowed crop differs from the full decode's")
	}
}
