//go:build !cgo || nolibjpeg

package load

import (
	"errors"
	"image"
)

// turbo reports that this build has no libjpeg-turbo: it was built with -tags nolibjpeg or without cgo.
func turbo() (string, error) {
	return "", errors.New("built without libjpeg-turbo (-tags nolibjpeg or CGO_ENABLED=0)")
}

// turboDecode is unavailable in this build: ok is always false.
func turboDecode([]byte, DecodeOptions, []byte) (*image.RGBA, bool, error) { return nil, false, nil }

// windowed reports that this build has no windowed JPEG decoding.
func windowed() error { return errors.New("built without libjpeg-turbo") }

// jpegWindow is unavailable in this build: ok is always false.
func jpegWindow([]byte, DecodeOptions, []byte, func(w, h int) (image.Rectangle, error)) (*image.RGBA, image.Point, bool, error) {
	return nil, image.Point{}, false, nil
}
