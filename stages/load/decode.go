package load

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"os"
	"sync"
)

// maxPixels is Pillow's decompression-bomb limit (2 × Image.MAX_IMAGE_PIXELS), past which it refuses an
// image; a variable so that the fuzz test can bound its allocations.
var maxPixels = 2 * 89478485

// Decode modes of a dataset (its `decode:` key).
const (
	DecodeExact = "exact" // every pixel as PIL's Image.open(f).convert("RGB"); the default
	DecodeDraft = "draft" // JPEGs reduced 1/2, 1/4 or 1/8 in the DCT domain first, as PIL's Image.draft
)

// DecodeOptions choose how images are decoded; the zero value decodes every pixel exactly as PIL does.
type DecodeOptions struct {
	// DraftSide > 0 lets libjpeg decode a JPEG at 1/2, 1/4 or 1/8 scale in the DCT domain, the largest
	// reduction that keeps both sides at least DraftSide: PIL's Image.draft("RGB", (DraftSide, DraftSide)).
	DraftSide int
}

// DecodeMode returns the options of a decode mode ("" = DecodeExact) for images preprocessed to g:
// draft keeps the shorter side at least g.Resize, so the resize still downsamples.
func DecodeMode(mode string, g Geometry) (DecodeOptions, error) {
	switch mode {
	case "", DecodeExact:
		return DecodeOptions{}, nil
	case DecodeDraft:
		if g.Resize == 0 {
			return DecodeOptions{}, fmt.Errorf("load: decode %q needs a geometry that resizes (%s crops only)", mode, g.Key())
		}
		if _, err := turbo(); err != nil {
			return DecodeOptions{}, fmt.Errorf("load: decode %q needs libjpeg-turbo: %w", mode, err)
		}
		return DecodeOptions{DraftSide: g.Resize}, nil
	}
	return DecodeOptions{}, fmt.Errorf("load: unknown decode mode %q (want %q or %q)", mode, DecodeExact, DecodeDraft)
}

// Decoder names the JPEG decoder this process uses, for the manifest: "libjpeg-turbo 2.1.5" or "go image/jpeg".
func Decoder() string {
	if name, err := turbo(); err == nil {
		return name
	}
	return "go image/jpeg"
}

// logDecoder says once, at the first JPEG, which decoder runs and why the fallback if it is one.
var logDecoder = sync.OnceFunc(func() {
	if name, err := turbo(); err == nil {
		if err := windowed(); err != nil {
			slog.Info("load: decoding JPEG with "+name+", whole images", "why", err.Error())
		} else {
			slog.Info("load: decoding JPEG with " + name + ", only where resize and crop read")
		}
	} else {
		slog.Warn("load: decoding JPEG with Go's image/jpeg, whose IDCT differs from PIL's by up to ±3 levels", "why", err.Error())
	}
})

// Decode reads and decodes the JPEG or PNG file at path (see DecodeBytes); errors name the file.
func Decode(path string) (*image.RGBA, error) { return DecodeOptions{}.Decode(path) }

// DecodeBytes decodes a JPEG or PNG (chosen by content) into an opaque *image.RGBA as PIL's convert("RGB") would.
func DecodeBytes(data []byte) (*image.RGBA, error) { return DecodeOptions{}.DecodeBytes(data) }

// Decode reads and decodes the file at path with these options; errors name the file.
func (o DecodeOptions) Decode(path string) (*image.RGBA, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load: decode %s: %w", path, err)
	}
	img, err := o.DecodeBytes(data)
	if err != nil {
		return nil, fmt.Errorf("load: decode %s: %w", path, err)
	}
	return img, nil
}

// DecodeBytes decodes a JPEG or PNG with these options: JPEGs through libjpeg-turbo where it is
// available (bit-identical to PIL), else Go's image/jpeg (which refuses DraftSide).
func (o DecodeOptions) DecodeBytes(data []byte) (*image.RGBA, error) { return o.decodeInto(data, nil) }

// PreprocessFile decodes the file at path with these options and preprocesses it to g into out
// (3·Height·Width values), as Decode then PreprocessInto do, reusing the file's bytes and the decoded
// pixels' memory from call to call; errors name the file.
func (o DecodeOptions) PreprocessFile(out []float32, path string, g Geometry) error {
	if len(out) != 3*g.Height*g.Width {
		return fmt.Errorf("load: preprocess %s: output holds %d values, geometry %s needs %d", path, len(out), g.Key(), 3*g.Height*g.Width)
	}
	sc := scratches.get()
	defer scratches.put(sc)
	var err error
	if sc.file, err = readFileInto(sc.file, path); err != nil {
		return fmt.Errorf("load: decode %s: %w", path, err)
	}
	if done, err := o.preprocessWindow(out, sc, path, g); done {
		return err
	}
	img, err := o.decodeInto(sc.file, sc.pix)
	if err != nil {
		return fmt.Errorf("load: decode %s: %w", path, err)
	}
	if cap(img.Pix) <= maxKeptPixels {
		sc.pix = img.Pix // nothing refers to the image after preprocessing: its memory serves the next one
	}
	if err := preprocessInto(out, img, g); err != nil {
		return fmt.Errorf("load: preprocess %s: %w", path, err)
	}
	return nil
}

// preprocessWindow is PreprocessFile for a JPEG decoded only where resize and crop read it (jpegWindow);
// done is false, with nothing done, where that is not possible.
func (o DecodeOptions) preprocessWindow(out []float32, sc *scratch, path string, g Geometry) (done bool, err error) {
	if len(sc.file) < 3 || sc.file[0] != 0xff || sc.file[1] != 0xd8 || sc.file[2] != 0xff {
		return false, nil
	}
	r := resamplers.get()
	defer resamplers.put(r)
	var planErr error
	img, _, ok, err := jpegWindow(sc.file, o, sc.pix, func(w, h int) (image.Rectangle, error) {
		win, err := r.planCrop(w, h, g)
		planErr = err
		return win, err
	})
	if !ok {
		return false, nil
	}
	logDecoder()
	switch {
	case planErr != nil:
		return true, fmt.Errorf("load: preprocess %s: %w", path, planErr)
	case err != nil:
		return true, fmt.Errorf("load: decode %s: %w", path, err)
	}
	if cap(img.Pix) <= maxKeptPixels {
		sc.pix = img.Pix
	}
	toPlanes(out, r.applyCrop(img))
	return true, nil
}

// maxKeptPixels bounds the decoded-pixel buffer a scratch keeps between images (64 MiB: 16 Mpixel RGBA).
const maxKeptPixels = 64 << 20

// scratch is the memory PreprocessFile reuses: the file's bytes and the decoded pixels.
type scratch struct{ file, pix []byte }

var scratches = newPool(decodePool, func() *scratch { return new(scratch) })

// readFileInto reads the file at path into buf's memory when it is large enough.
func readFileInto(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxKeptPixels {
		return io.ReadAll(f) // a pipe, or a file too large to keep: no reuse
	}
	buf = grow(buf, int(st.Size())+1) // one spare byte: a file that grew shows up as a short read not filling it
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return buf[:n], nil
	}
	if err != nil {
		return nil, err
	}
	rest, err := io.ReadAll(f) // the file grew since Stat
	return append(buf[:n], rest...), err
}

// decodeInto is DecodeBytes decoding JPEGs into pix's memory when it is large enough.
func (o DecodeOptions) decodeInto(data, pix []byte) (*image.RGBA, error) {
	format, err := sniff(data)
	if err != nil {
		return nil, err
	}
	if format == "jpeg" {
		logDecoder()
		if img, ok, err := turboDecode(data, o, pix); ok {
			return img, err
		}
		if o.DraftSide > 0 { // Go's decoder cannot reduce in the DCT domain: never a silently different mode
			return nil, errors.New("jpeg: draft decoding needs libjpeg-turbo, which this process lacks")
		}
	}
	c := codecs[format]
	cfg, err := c.config(bytes.NewReader(data)) // the header only: refuse a bomb before allocating its pixels
	if err != nil {
		return nil, describe(format, err)
	}
	if err := checkSize(format, cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return nil, describe(format, err)
	}
	return toRGBA(img), nil
}

// checkSize refuses an image without pixels or past PIL's decompression-bomb limit.
func checkSize(format string, w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%s: image has no pixels (%dx%d)", format, w, h)
	}
	if w*h > maxPixels {
		return fmt.Errorf("%s: %dx%d pixels exceeds the limit of %d (a decompression bomb?)", format, w, h, maxPixels)
	}
	return nil
}

// draftSize is the size libjpeg decodes a w×h JPEG to under these options (draftScale), sides rounded up.
func (o DecodeOptions) draftSize(w, h int) (int, int) {
	a := o.draftScale(w, h)
	return (w + a - 1) / a, (h + a - 1) / a
}

// draftScale is the reduction 1/a libjpeg decodes a w×h JPEG at under these options: PIL's draft picks
// the largest a in 8, 4, 2, 1 with a ≤ min(w/DraftSide, h/DraftSide).
func (o DecodeOptions) draftScale(w, h int) int {
	if o.DraftSide <= 0 {
		return 1
	}
	scale := min(w/o.DraftSide, h/o.DraftSide)
	for _, a := range []int{8, 4, 2} {
		if scale >= a {
			return a
		}
	}
	return 1
}

// codecs are the pure-Go decoders by format name.
var codecs = map[string]struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}{
	"jpeg": {jpeg.DecodeConfig, jpeg.Decode},
	"png":  {png.DecodeConfig, png.Decode},
}

// sniff names the format from the leading bytes; only JPEG and PNG are decoded. Errors never quote the
// content: a manifest may list any file (say /etc/shadow), and error rows are written into results.
func sniff(data []byte) (string, error) {
	switch {
	case len(data) == 0:
		return "", errors.New("empty file (0 bytes)")
	case bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}):
		return "jpeg", nil
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "png", nil
	}
	for _, f := range []struct{ name, magic string }{
		{"GIF", "GIF8"}, {"BMP", "BM"}, {"TIFF", "II*\x00"}, {"TIFF", "MM\x00*"}, {"WebP", "RIFF"},
	} {
		if bytes.HasPrefix(data, []byte(f.magic)) {
			return "", fmt.Errorf("unsupported image format %s (only JPEG and PNG are decoded)", f.name)
		}
	}
	return "", fmt.Errorf("not a JPEG or PNG image (%d bytes without either signature)", len(data))
}

// describe turns a decoder error into one that says what is wrong with the file.
func describe(format string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: truncated file: data ends before the image is complete (%w)", format, err)
	}
	return fmt.Errorf("%s: corrupt or unsupported data: %w", format, err)
}
