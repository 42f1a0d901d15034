package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData is /work/shared/data seen from this package: the repo root is two folders up.
const sharedData = "../../../shared/data"

// needShared returns the path of a shared data folder, or skips the test when it is absent.
func needShared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedData, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data %s absent: %v", p, err)
	}
	return p
}

// exactJPEG reports whether JPEGs decode through libjpeg-turbo, so must equal PIL's bit for bit.
func exactJPEG() bool { return strings.HasPrefix(Decoder(), "libjpeg-turbo") }

// TestDecodeJPEGMatchesPIL compares the decoder with PIL's convert("RGB") of the same files. Through
// libjpeg-turbo every value must be equal. The pure-Go fallback's IDCT rounds differently from
// libjpeg-turbo's (jidctint.c), so a few values are off by 1–3 while chroma upsampling and colour
// conversion follow libjpeg exactly (Go's own YCbCr.At is off by up to 122 on these fixtures); its
// bounds: max |diff| ≤ 3, ≥ 95% of values exact, mean |diff| ≤ 0.1; for YCCK, which Go's decoder turns
// into CMYK with its own YCbCr rounding, ≥ 85% exact and mean ≤ 0.15.
func TestDecodeJPEGMatchesPIL(t *testing.T) {
	exact := exactJPEG()
	t.Logf("decoder: %s", Decoder())
	for _, name := range readGolden(t).JPEG {
		maxAbs, minExact, maxMean := 0, 1.0, 0.0
		if !exact {
			maxAbs, minExact, maxMean = 3, 0.95, 0.1
			if name == "ycck" {
				minExact, maxMean = 0.85, 0.15
			}
		}
		t.Run(name, func(t *testing.T) {
			got, err := Decode(filepath.Join("testdata/jpeg", name+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			compareRGB(t, got, filepath.Join("testdata/jpeg", name+".want.png"), maxAbs, minExact, maxMean)
		})
	}
}

// TestDecodeDraftMatchesPIL compares DCT-domain reduced decoding with PIL's draft("RGB", (side, side)):
// every reduction (1/1, 1/2, 1/4, 1/8), odd sizes, chroma subsamplings, greyscale and CMYK.
func TestDecodeDraftMatchesPIL(t *testing.T) {
	if !exactJPEG() {
		t.Skipf("draft decoding needs libjpeg-turbo; this process decodes with %s", Decoder())
	}
	data, err := os.ReadFile("testdata/draft.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		JPEG, Want string
		Side       int
		Size       [2]int
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	scales := map[int]bool{}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/side%d", filepath.Base(c.JPEG), c.Side), func(t *testing.T) {
			got, err := DecodeOptions{DraftSide: c.Side}.Decode(filepath.Join("testdata", c.JPEG))
			if err != nil {
				t.Fatal(err)
			}
			if sz := got.Rect.Size(); sz != image.Pt(c.Size[0], c.Size[1]) {
				t.Fatalf("size %v, PIL %v", sz, c.Size)
			}
			scales[(203+got.Rect.Dx()-1)/got.Rect.Dx()] = true // 203 / ceil(203 / a) rounds up to a
			compareRGB(t, got, filepath.Join("testdata", c.Want), 0, 1, 0)
		})
	}
	if len(scales) != 4 {
		t.Errorf("the cases cover reductions %v, want 1/1, 1/2, 1/4 and 1/8", scales)
	}
}

// compareRGB checks got against a PIL-written RGB PNG within the given bounds (0, 1, 0 = equal), and opacity.
func compareRGB(t *testing.T, got *image.RGBA, wantPNG string, maxAbs int, minExact, maxMean float64) {
	t.Helper()
	w, h, want := readPNGRGB(t, wantPNG)
	if got.Rect.Dx() != w || got.Rect.Dy() != h {
		t.Fatalf("size %v, PIL %dx%d", got.Rect, w, h)
	}
	maxDiff, exact, sum := 0, 0, 0
	for i := range w * h {
		for c := range 3 {
			d := int(got.Pix[4*i+c]) - int(want[3*i+c])
			d = max(d, -d)
			maxDiff, sum = max(maxDiff, d), sum+d
			if d == 0 {
				exact++
			}
		}
		if got.Pix[4*i+3] != 255 {
			t.Fatalf("pixel %d alpha %d, want opaque", i, got.Pix[4*i+3])
		}
	}
	n := 3 * w * h
	t.Logf("max |diff| %d, exact %.1f%%, mean |diff| %.3f", maxDiff, 100*float64(exact)/float64(n), float64(sum)/float64(n))
	if maxDiff > maxAbs || float64(exact) < minExact*float64(n) || float64(sum) > maxMean*float64(n) {
		t.Errorf("differs from PIL: max %d (bound %d), exact %d/%d, sum %d", maxDiff, maxAbs, exact, n, sum)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/jpeg/ycc420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(good)
	for i := len(corrupt) / 3; i < len(corrupt)-2; i++ {
		corrupt[i] = 0xff // markers everywhere: the entropy-coded data is garbage
	}
	const secret = "root:$y$j9T$abcdefgh:19000:0:99999:7:::\n" // what /etc/shadow starts with
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte // nil: no file
		want []string
	}{
		{"missing.jpg", nil, []string{"missing.jpg", "no such file"}},
		{"empty.jpg", []byte{}, []string{"empty.jpg", "empty file"}},
		{"truncated.jpg", good[:len(good)/2], []string{"truncated.jpg", "jpeg", "truncated"}},
		{"header-only.jpg", good[:20], []string{"header-only.jpg", "jpeg", "truncated"}},
		{"corrupt.jpg", corrupt, []string{"corrupt.jpg", "jpeg"}},
		{"truncated.png", pngBuf.Bytes()[:pngBuf.Len()-20], []string{"truncated.png", "png"}},
		{"text.jpg", []byte("hello, world"), []string{"text.jpg", "not a JPEG or PNG image"}},
		{"shadow", []byte(secret), []string{"shadow", "not a JPEG or PNG image"}},
		{"anim.gif", []byte("GIF89a\x01\x00\x01\x00"), []string{"anim.gif", "unsupported image format GIF"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if c.data != nil {
				if err := os.WriteFile(p, c.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Decode(p)
			checkErr(t, c.name, err, c.want...)
			// Error rows land in results: no byte of the content may appear, in any spelling.
			if err != nil && len(c.data) >= 4 {
				head := c.data[:4]
				for _, leak := range []string{string(head), fmt.Sprintf("% x", head), fmt.Sprintf("%x", head), fmt.Sprintf("%q", head)} {
					if strings.Contains(err.Error(), leak) {
						t.Errorf("%s: error %q quotes the file's content (%s)", c.name, err, leak)
					}
				}
			}
		})
	}
}

func TestToRGBA(t *testing.T) {
	nrgba := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	nrgba.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0}) // fully transparent: PIL keeps the colour
	pal := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.NRGBA{10, 20, 30, 40}})
	g16 := image.NewGray16(image.Rect(0, 0, 1, 1))
	g16.SetGray16(0, 0, color.Gray16{0xabcd})
	rgba64 := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
	rgba64.SetNRGBA64(0, 0, color.NRGBA64{0x1234, 0x5678, 0x9abc, 0x8000})
	cmyk := image.NewCMYK(image.Rect(0, 0, 1, 1))
	cmyk.SetCMYK(0, 0, color.CMYK{255, 0, 128, 51}) // nk = 204: 204-204, 204-0, 204-round(128·204/255)=204-102
	gray := image.NewGray(image.Rect(0, 0, 1, 1))
	gray.SetGray(0, 0, color.Gray{77})
	sub := image.NewRGBA(image.Rect(0, 0, 3, 3))
	sub.SetRGBA(2, 1, color.RGBA{1, 2, 3, 255})
	for _, c := range []struct {
		name string
		img  image.Image
		want [3]uint8
	}{
		{"nrgba drops alpha", nrgba, [3]uint8{200, 100, 50}},
		{"palette drops alpha", pal, [3]uint8{10, 20, 30}},
		{"gray16 high byte", g16, [3]uint8{0xab, 0xab, 0xab}},
		{"nrgba64 high byte", rgba64, [3]uint8{0x12, 0x56, 0x9a}},
		{"cmyk as Pillow", cmyk, [3]uint8{0, 204, 102}},
		{"gray replicated", gray, [3]uint8{77, 77, 77}},
		{"sub-image moved to origin", sub.SubImage(image.Rect(2, 1, 3, 2)), [3]uint8{1, 2, 3}},
	} {
		got := toRGBA(c.img)
		if got.Rect != image.Rect(0, 0, 1, 1) {
			t.Errorf("%s: bounds %v", c.name, got.Rect)
			continue
		}
		if p := [3]uint8(got.Pix[:3]); p != c.want || got.Pix[3] != 255 {
			t.Errorf("%s: got %v alpha %d, want %v opaque", c.name, p, got.Pix[3], c.want)
		}
	}
}

// TestChromaUpsampling checks libjpeg's triangle filters on hand-computed rows.
func TestChromaUpsampling(t *testing.T) {
	plane := []uint8{
		0, 100, 200,
		40, 40, 40,
	}
	for _, c := range []struct {
		name   string
		hs, vs int
		w, y   int
		want   []uint8
	}{
		// h2v1: edges copy, inner (3·near + far + 1 or 2) >> 2.
		{"h2v1", 2, 1, 6, 0, []uint8{0, (0 + 100 + 2) >> 2, (300 + 0 + 1) >> 2, (300 + 200 + 2) >> 2, (600 + 100 + 1) >> 2, 200}},
		{"h2v1 odd width", 2, 1, 5, 0, []uint8{0, 25, 75, 125, 175}},
		// h1v2, output row 1 (second of the pair): (3·row0 + row1 + 2) >> 2.
		{"h1v2", 1, 2, 3, 1, []uint8{(0 + 40 + 2) >> 2, (300 + 40 + 2) >> 2, (600 + 40 + 2) >> 2}},
		// h1v2, output row 0: the row above row 0 is row 0 itself: (4·row0 + 1) >> 2.
		{"h1v2 top", 1, 2, 3, 0, []uint8{0, 100, 200}},
		// h2v2, output row 1: column sums s = 3·row0 + row1 = 40, 340, 640.
		{"h2v2", 2, 2, 6, 1, []uint8{(160 + 8) >> 4, (120 + 340 + 7) >> 4, (1020 + 40 + 8) >> 4, (1020 + 640 + 7) >> 4, (1920 + 340 + 8) >> 4, (2560 + 7) >> 4}},
		// Two samples per row: libjpeg replicates instead of filtering.
		{"h2v1 narrow", 2, 1, 4, 0, []uint8{0, 0, 100, 100}},
	} {
		cw := 3
		if c.name == "h2v1 narrow" {
			cw = 2
		}
		u := &chromaUpsampler{hs: c.hs, vs: c.vs, stride: 3, cw: cw, ch: 2}
		dst := make([]uint8, c.w)
		u.row(dst, plane, c.y)
		if !bytes.Equal(dst, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, dst, c.want)
		}
	}
}

// TestImageNetSampleDecodes decodes and preprocesses every JPEG of the shared sample at resize 256.
func TestImageNetSampleDecodes(t *testing.T) {
	dir := needShared(t, "imagenet-sample")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := Geometry{Resize: 256, Height: 224, Width: 224}
	n, grey := 0, 0
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		img, err := Decode(p)
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		vals, err := Preprocess(img, g)
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		if len(vals) != 3*224*224 {
			t.Fatalf("%s: %d values, want 3·224·224", e.Name(), len(vals))
		}
		var lo, hi float32 = 1, 0
		for _, v := range vals {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo < 0 || hi > 1 || hi == lo {
			t.Errorf("%s: values span [%v, %v], want a non-constant range within [0,1]", e.Name(), lo, hi)
		}
		// Greyscale files (by the standard decoder's own judgement) must come out with R = G = B.
		f, _ := os.Open(p)
		std, _ := jpeg.Decode(f)
		f.Close()
		if _, ok := std.(*image.Gray); ok {
			grey++
			plane := 224 * 224
			for i := range plane {
				if vals[i] != vals[plane+i] || vals[i] != vals[2*plane+i] {
					t.Fatalf("%s: greyscale image has R≠G≠B at %d", e.Name(), i)
				}
			}
		}
		n++
	}
	// The 500 files hold 9 single-channel JPEGs (of the 23 the full 1,000-image set has).
	if n != 500 || grey != 9 {
		t.Errorf("decoded %d images (%d greyscale), want 500 (9 greyscale)", n, grey)
	}
}
