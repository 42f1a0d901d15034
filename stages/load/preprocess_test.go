package load

import (
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// golden is testdata/golden.json, written by testdata/make_golden.py from Pillow.
type golden struct {
	Resize []struct {
		Kind, Name, Input, Want string
		Resize, Height, Width   int
	}
	JPEG []string
}

func readGolden(t *testing.T) golden {
	t.Helper()
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// readPNGRGB reads a PNG fixture as packed RGB, independently of the code under test.
func readPNGRGB(t *testing.T, path string) (w, h int, rgb []uint8) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			rgb = append(rgb, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
		}
	}
	return b.Dx(), b.Dy(), rgb
}

// TestResizeMatchesPillow checks every golden case byte for byte against Pillow's output.
func TestResizeMatchesPillow(t *testing.T) {
	g := readGolden(t)
	if len(g.Resize) < 15 {
		t.Fatalf("golden.json lists %d resize cases, want at least 15", len(g.Resize))
	}
	for _, c := range g.Resize {
		t.Run(c.Name, func(t *testing.T) {
			src, err := Decode(filepath.Join("testdata", c.Input))
			if err != nil {
				t.Fatal(err)
			}
			ww, wh, want := readPNGRGB(t, filepath.Join("testdata", c.Want))
			var got []uint8
			switch c.Kind {
			case "pipeline":
				geo := Geometry{Resize: c.Resize, Height: c.Height, Width: c.Width}
				got, err = resizeCropImage(src, geo)
				if err != nil {
					t.Fatal(err)
				}
				// Preprocess must be exactly these bytes / 255 in CHW order.
				vals, err := Preprocess(src, geo)
				if err != nil {
					t.Fatal(err)
				}
				plane := c.Height * c.Width
				for i := range plane {
					for ch := range 3 {
						if v := vals[ch*plane+i]; v != float32(got[3*i+ch])/255 {
							t.Fatalf("Preprocess[%d,%d] = %v, want %d/255", ch, i, v, got[3*i+ch])
						}
					}
				}
			case "raw":
				got = resizeCrop(src, c.Width, c.Height, image.Rect(0, 0, c.Width, c.Height))
			default:
				t.Fatalf("unknown kind %q", c.Kind)
			}
			if ww != c.Width || wh != c.Height || len(got) != len(want) {
				t.Fatalf("size: got %d bytes, want %dx%d (%d bytes)", len(got), ww, wh, len(want))
			}
			diff := 0
			for i := range want {
				if got[i] != want[i] {
					if diff < 5 {
						t.Errorf("pixel %d channel %d: got %d, Pillow %d", i/3, i%3, got[i], want[i])
					}
					diff++
				}
			}
			if diff > 0 {
				t.Errorf("%d of %d values differ from Pillow", diff, len(want))
			}
		})
	}
}

func TestCenterCrop(t *testing.T) {
	for _, c := range []struct {
		w, h, cw, ch int
		want         image.Rectangle
	}{
		{256, 256, 224, 224, image.Rect(16, 16, 240, 240)},
		{341, 256, 224, 224, image.Rect(58, 16, 282, 240)}, // (341-224)/2 = 58.5 rounds to even 58
		{343, 256, 224, 224, image.Rect(60, 16, 284, 240)}, // 59.5 rounds to 60
		{16, 25, 15, 13, image.Rect(0, 6, 15, 19)},         // 0.5 → 0, 6
		{5, 5, 5, 5, image.Rect(0, 0, 5, 5)},
	} {
		if got := centerCrop(c.w, c.h, c.cw, c.ch); got != c.want {
			t.Errorf("centerCrop(%d,%d,%d,%d) = %v, want %v", c.w, c.h, c.cw, c.ch, got, c.want)
		}
	}
}

func TestResizedSize(t *testing.T) {
	for _, c := range []struct {
		g            Geometry
		w, h, ow, oh int
	}{
		{Geometry{Resize: 256, Height: 224, Width: 224}, 500, 375, 341, 256}, // int(256*500/375) = int(341.33)
		{Geometry{Resize: 256, Height: 224, Width: 224}, 375, 500, 256, 341},
		{Geometry{Resize: 256, Height: 224, Width: 224}, 300, 300, 256, 256},
		{Geometry{Resize: 20, Height: 20, Width: 20}, 13, 9, 28, 20}, // int(28.888)
		{Geometry{Height: 224, Width: 224}, 640, 480, 640, 480},
	} {
		if ow, oh := c.g.resizedSize(c.w, c.h); ow != c.ow || oh != c.oh {
			t.Errorf("%s on %dx%d = %dx%d, want %dx%d", c.g.Key(), c.w, c.h, ow, oh, c.ow, c.oh)
		}
	}
}

func TestGeometry(t *testing.T) {
	for _, c := range []struct {
		g       Geometry
		key     string
		wantErr string
	}{
		{Geometry{Resize: 256, Height: 224, Width: 224}, "r256-c224x224", ""},
		{Geometry{Height: 224, Width: 200}, "c224x200", ""},
		{Geometry{Resize: 256, Height: 0, Width: 224}, "r256-c0x224", "positive"},
		{Geometry{Resize: -1, Height: 2, Width: 2}, "r-1-c2x2", "resize must be positive"},
		{Geometry{Resize: 200, Height: 224, Width: 224}, "r200-c224x224", "larger than the resized shorter side"},
		{Geometry{Resize: 20000, Height: 224, Width: 224}, "r20000-c224x224", "above"},
	} {
		if got := c.g.Key(); got != c.key {
			t.Errorf("Key() = %q, want %q", got, c.key)
		}
		err := c.g.Validate()
		if c.wantErr == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", c.key, err)
			}
			continue
		}
		checkErr(t, c.key, err, c.wantErr)
	}
}

func TestPreprocessRejects(t *testing.T) {
	small := image.NewRGBA(image.Rect(0, 0, 10, 12))
	for _, c := range []struct {
		name    string
		img     image.Image
		g       Geometry
		wantErr string
	}{
		{"crop-only too small", small, Geometry{Height: 13, Width: 10}, "smaller than the crop 10x13"},
		{"invalid geometry", small, Geometry{Resize: 4, Height: 5, Width: 5}, "larger than the resized"},
		{"empty image", image.NewRGBA(image.Rect(0, 0, 0, 5)), Geometry{Resize: 4, Height: 4, Width: 4}, "no pixels"},
	} {
		_, err := Preprocess(c.img, c.g)
		checkErr(t, c.name, err, c.wantErr)
	}
}
