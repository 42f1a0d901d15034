//go:build cgo && !nolibjpeg

package load

import (
	"regexp"
	"testing"
)

// TestDecoderIsLibjpegTurbo: a default (cgo) build must decode JPEGs with libjpeg-turbo, so that the exact
// golden tests run; without the library the fallback is only chosen on purpose, with -tags nolibjpeg.
func TestDecoderIsLibjpegTurbo(t *testing.T) {
	if _, err := turbo(); err != nil {
		t.Fatalf("libjpeg-turbo not loaded (%v): run `make deps`, or test the fallback with -tags nolibjpeg", err)
	}
	if d := Decoder(); !regexp.MustCompile(`^libjpeg-turbo \d+\.\d+\.\d+$`).MatchString(d) {
		t.Errorf("Decoder() = %q, want libjpeg-turbo and its release", d)
	}
}
