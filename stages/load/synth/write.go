package synth

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// EncodePNG encodes img as PNG with fixed settings, so equal images give equal bytes.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("synth: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteDir renders every item of cfg and writes it as PNG to dir/<item ID>, creating the class
// folders (the Geirhos layout). Existing files of the same names are overwritten. Rendering runs
// on GOMAXPROCS goroutines; the files do not depend on their number.
func WriteDir(dir string, cfg Config) error {
	g, err := New(cfg)
	if err != nil {
		return err
	}
	for _, name := range g.Classes() {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return fmt.Errorf("synth: create class folder: %w", err)
		}
	}
	items := g.Items()
	jobs := make(chan Item)
	errs := make(chan error, len(items))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				errs <- g.writeItem(dir, it)
			}
		}()
	}
	for _, it := range items {
		jobs <- it
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *Generator) writeItem(dir string, it Item) error {
	b, err := EncodePNG(g.Render(it))
	if err != nil {
		return fmt.Errorf("synth: %s: %w", it.ID, err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(it.ID)), b, 0o644); err != nil {
		return fmt.Errorf("synth: write %s: %w", it.ID, err)
	}
	return nil
}
