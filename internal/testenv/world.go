package testenv

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/vistudy/vistudy/runtimes/onnx"
)

// ColourWorld is a tiny world with a known answer: a classifier (Model) whose logits are the mean
// red, green and blue of a 16×16 image and 0.4 for "dark", class folders (Data) of 20×20
// solid-colour PNGs, and a label file (Labels). 48 images are labelled right, 4 red ones sit in
// the green folder (top-1 and top-2 misses, top-3 hits: top-1 = 48/52), and three files are
// broken: 2blue/corrupt.jpg, 3dark/truncated.png and 1green/missing.png (a link to nothing).
type ColourWorld struct {
	Dir, Model, Data, Labels string
}

// NewColourWorld writes a colour world into a temporary folder.
func NewColourWorld(t testing.TB) *ColourWorld {
	t.Helper()
	w := &ColourWorld{Dir: t.TempDir()}
	c := onnx.Classifier{DType: onnx.Float32, Channels: 3, Height: 16, Width: 16, Filters: 3, Kernel: 1, Classes: 4,
		ConvWeight: []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}, ConvBias: []float32{0, 0, 0},
		FCWeight: []float32{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, FCBias: []float32{0, 0, 0, 0.4}}
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	w.Model = filepath.Join(w.Dir, "colour.onnx")
	w.Data = filepath.Join(w.Dir, "images")
	w.Labels = filepath.Join(w.Dir, "classes.txt")
	must(t, os.WriteFile(w.Model, data, 0o644))
	must(t, os.WriteFile(w.Labels, []byte("0red\n1green\n2blue\n3dark\n"), 0o644))
	classes := []struct {
		folder string
		c      color.RGBA
	}{{"0red", color.RGBA{230, 25, 25, 255}}, {"1green", color.RGBA{25, 230, 25, 255}},
		{"2blue", color.RGBA{25, 25, 230, 255}}, {"3dark", color.RGBA{51, 51, 51, 255}}}
	write := func(folder, name string, c color.RGBA) {
		img := image.NewRGBA(image.Rect(0, 0, 20, 20))
		for i := 0; i < len(img.Pix); i += 4 {
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
		}
		var buf bytes.Buffer
		must(t, png.Encode(&buf, img))
		p := filepath.Join(w.Data, folder, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, buf.Bytes(), 0o644))
	}
	for _, cl := range classes {
		for i := 0; i < 12; i++ {
			write(cl.folder, fmt.Sprintf("img%02d.png", i), cl.c)
		}
	}
	for i := 0; i < 4; i++ {
		write("1green", fmt.Sprintf("wrong%d.png", i), classes[0].c)
	}
	must(t, os.WriteFile(filepath.Join(w.Data, "2blue", "corrupt.jpg"), []byte("\xff\xd8\xff\xe0 this is not a jpeg"), 0o644))
	good, err := os.ReadFile(filepath.Join(w.Data, "3dark", "img00.png"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(w.Data, "3dark", "truncated.png"), good[:len(good)/2], 0o644))
	must(t, os.Symlink(filepath.Join(w.Dir, "deleted.png"), filepath.Join(w.Data, "1green", "missing.png")))
	return w
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
