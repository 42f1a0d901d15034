package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/stages/load"
)

// photo returns the centre 224×224 crop of imagenet-sample's first image as a [3,224,224] tensor in
// [0,1], decoded by the loader (libjpeg-turbo, as Pillow decodes it for the reference).
func photo(t testing.TB) []float32 {
	t.Helper()
	im, err := load.Decode(testenv.SharedData(t, "imagenet-sample", "n01440764_tench.JPEG"))
	if err != nil {
		t.Fatal(err)
	}
	b := im.Bounds()
	top, left := b.Min.Y+(b.Dy()-224)/2, b.Min.X+(b.Dx()-224)/2
	out := make([]float32, 3*224*224)
	for y := range 224 {
		for x := range 224 {
			r, g, bb, _ := im.At(left+x, top+y).RGBA()
			i := y*224 + x
			out[i], out[224*224+i], out[2*224*224+i] = float32(r>>8)/255, float32(g>>8)/255, float32(bb>>8)/255
		}
	}
	return out
}

// psnr is the peak signal-to-noise ratio of a against b (values in [0,1]), 99 when equal.
func psnr(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	if s == 0 {
		return 99
	}
	return -10 * math.Log10(s/float64(len(a)))
}

func mean(a []float32) float64 {
	var s float64
	for _, v := range a {
		s += float64(v)
	}
	return s / float64(len(a))
}

// frostDir is the shared folder of the frost photographs (skipping when absent).
func frostDir(t testing.TB) string { return testenv.SharedData(t, "imagenet-c-frost") }

// golden is testdata/golden.json: per "name/severity", the reference's PSNR and mean ranges over 5 seeds.
type golden map[string]struct{ PSNR, Mean [2]float64 }

// psnrSlack is how far (dB) outside the reference's range over its seeds a PSNR may fall, and
// meanSlack the mean: for random corruptions the streams differ (numpy's vs ours); the
// deterministic ones differ only by rounding (resampler weights, float32 vs float64).
const (
	psnrSlack, meanSlack                   = 1.0, 0.01
	psnrSlackDeterministic, meanSlackExact = 0.05, 0.001
)

// TestPictureContactSheet corrupts one real photo with every corruption at severities 1–5, checks each
// cell's PSNR and mean against the reference implementation's (testdata/golden.json, made by
// testdata/golden.py outside the repository) and that damage grows with severity, and writes the
// contact sheet (to $CORRUPTION_SHEET when set, e.g. docs/corruptions.png).
func TestPictureContactSheet(t *testing.T) {
	clean := photo(t)
	frost := frostDir(t)
	data, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want golden
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	const cell = 112
	sheet := image.NewRGBA(image.Rect(0, 0, 6*cell, len(corruptions)*cell))
	draw.Draw(sheet, sheet.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)
	out := make([]float32, len(clean))
	for row, c := range corruptions {
		paste(sheet, clean, 0, row, cell)
		prev := 99.0
		for sev := 1; sev <= 5; sev++ {
			if err := Corrupt(out, clean, 224, 224, c.name, sev, 1, "tench", frost); err != nil {
				t.Fatal(err)
			}
			paste(sheet, out, sev, row, cell)
			key := fmt.Sprintf("%s/%d", c.name, sev)
			p, m := psnr(out, clean), mean(out)
			g, ok := want[key]
			if !ok {
				t.Errorf("%s: no golden entry", key)
				continue
			}
			slack, mslack := psnrSlack, meanSlack
			if slices.Contains(deterministic, c.name) {
				slack, mslack = psnrSlackDeterministic, meanSlackExact
			}
			status := "ok"
			if p < g.PSNR[0]-slack || p > g.PSNR[1]+slack {
				status = "PSNR OUT"
				t.Errorf("%s: PSNR %.2f dB, reference %.2f–%.2f (±%.2f)", key, p, g.PSNR[0], g.PSNR[1], slack)
			}
			if m < g.Mean[0]-mslack || m > g.Mean[1]+mslack {
				status = "MEAN OUT"
				t.Errorf("%s: mean %.4f, reference %.4f–%.4f (±%g)", key, m, g.Mean[0], g.Mean[1], mslack)
			}
			t.Logf("%-18s %d  psnr %6.2f (ref %6.2f–%6.2f)  mean %.4f (ref %.4f–%.4f) %s", c.name, sev, p, g.PSNR[0], g.PSNR[1], m, g.Mean[0], g.Mean[1], status)
			// where the reference's damage grows with severity whatever the seed, ours must too
			if below, ok := want[fmt.Sprintf("%s/%d", c.name, sev-1)]; ok && g.PSNR[1] < below.PSNR[0] && p >= prev {
				t.Errorf("%s: PSNR %.2f dB is not below %.2f at the severity below", key, p, prev)
			}
			prev = p
		}
	}
	path := os.Getenv("CORRUPTION_SHEET")
	if path == "" {
		path = filepath.Join(t.TempDir(), "corruptions.png")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(f, sheet); err != nil {
		t.Fatal(err)
	}
}

// paste draws a [3,224,224] image, halved by 2×2 averaging, into cell (col, row) of the sheet.
func paste(sheet *image.RGBA, x []float32, col, row, cell int) {
	const n = 224 * 224
	for y := range cell {
		for xx := range cell {
			var c [3]float32
			for ch := range 3 {
				i := ch*n + 2*y*224 + 2*xx
				c[ch] = (x[i] + x[i+1] + x[i+224] + x[i+225]) / 4
			}
			sheet.Set(col*cell+xx, row*cell+y, color.RGBA{uint8(c[0]*255 + 0.5), uint8(c[1]*255 + 0.5), uint8(c[2]*255 + 0.5), 255})
		}
	}
}
