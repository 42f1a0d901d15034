package load

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
)

// maxPixels is Pillow's decompression-bomb limit (2 × Image.MAX_IMAGE_PIXELS), past which it refuses an image.
const maxPixels = 2 * 89478485

// Decode reads and decodes the JPEG or PNG file at path (see DecodeBytes); errors name the file.
func Decode(path string) (*image.RGBA, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load: decode %s: %w", path, err)
	}
	img, err := DecodeBytes(data)
	if err != nil {
		return nil, fmt.Errorf("load: decode %s: %w", path, err)
	}
	return img, nil
}

// DecodeBytes decodes a JPEG or PNG (chosen by content) into an opaque *image.RGBA as PIL's convert("RGB") would.
func DecodeBytes(data []byte) (*image.RGBA, error) {
	format, err := sniff(data)
	if err != nil {
		return nil, err
	}
	c := codecs[format]
	cfg, err := c.config(bytes.NewReader(data)) // the header only: refuse a bomb before allocating its pixels
	if err != nil {
		return nil, describe(format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s: image has no pixels (%dx%d)", format, cfg.Width, cfg.Height)
	}
	if cfg.Width*cfg.Height > maxPixels {
		return nil, fmt.Errorf("%s: %dx%d pixels exceeds the limit of %d (a decompression bomb?)", format, cfg.Width, cfg.Height, maxPixels)
	}
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return nil, describe(format, err)
	}
	return toRGBA(img), nil
}

// codecs are the decoders by format name.
var codecs = map[string]struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}{
	"jpeg": {jpeg.DecodeConfig, jpeg.Decode},
	"png":  {png.DecodeConfig, png.Decode},
}

// sniff names the format from the leading bytes; only JPEG and PNG are decoded.
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
	head := data[:min(len(data), 8)]
	return "", fmt.Errorf("not a JPEG or PNG image: unrecognised content starting % x", head)
}

// describe turns a decoder error into one that says what is wrong with the file.
func describe(format string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: truncated file: data ends before the image is complete (%w)", format, err)
	}
	return fmt.Errorf("%s: corrupt or unsupported data: %w", format, err)
}
