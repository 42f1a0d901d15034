package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// level is the uint8 level of a [0,1] value the corruptions write (exact multiples of 1/255).
func level(v float32) int { return int(math.Round(float64(v) * 255)) }

// corrupt runs one corruption on an h×w image whose value at (channel, y, x) is pix, seed 1, id "k".
func corrupt(t testing.TB, name string, sev, h, w int, pix func(c, y, x int) float32) []float32 {
	t.Helper()
	src := make([]float32, 3*h*w)
	for c := range 3 {
		for y := range h {
			for x := range w {
				src[(c*h+y)*w+x] = pix(c, y, x)
			}
		}
	}
	dst := make([]float32, len(src))
	dir := ""
	if name == "frost" {
		dir = frostDir(t)
	}
	if err := Corrupt(dst, src, h, w, name, sev, 1, "k", dir); err != nil {
		t.Fatal(err)
	}
	return dst
}

func constant(v float32) func(int, int, int) float32 { return func(int, int, int) float32 { return v } }

// randomImage is a seeded image of uint8 levels.
func randomImage(seed uint64) func(int, int, int) float32 {
	return func(c, y, x int) float32 {
		r := rand.New(rand.NewPCG(seed, uint64((c*10007+y)*10007+x)))
		return float32(r.IntN(256)) / 255
	}
}

func TestContrastKnownAnswers(t *testing.T) {
	for sev := 1; sev <= 5; sev++ {
		for i, v := range corrupt(t, "contrast", sev, 16, 16, constant(100./255)) {
			if level(v) != 100 {
				t.Fatalf("severity %d: constant image changed at %d: level %d, want 100", sev, i, level(v))
			}
		}
		// half the pixels at 50, half at 150: mean 100, deviations ±50 scaled by c
		got := corrupt(t, "contrast", sev, 4, 4, func(_, y, _ int) float32 { return float32(50+100*(y%2)) / 255 })
		c := contrastFactor[sev-1]
		lo, hi := int(100-50*c+1e-9), int(100+50*c+1e-9) // np.uint8 truncates
		for i, v := range got {
			want := lo
			if (i/4)%2 == 1 {
				want = hi
			}
			if level(v) != want {
				t.Errorf("severity %d: value %d is level %d, want %d", sev, i, level(v), want)
			}
		}
	}
}

// hsv and rgb are the textbook HSV conversions (hue in [0,1)), written independently of the plugin.
func hsv(r, g, b float64) (h, s, v float64) {
	v = max(r, g, b)
	d := v - min(r, g, b)
	if v > 0 {
		s = d / v
	}
	switch {
	case d == 0:
		h = 0
	case v == r:
		h = math.Mod((g-b)/d, 6) / 6
	case v == g:
		h = ((b-r)/d + 2) / 6
	default:
		h = ((r-g)/d + 4) / 6
	}
	if h < 0 {
		h++
	}
	return
}

func rgb(h, s, v float64) (r, g, b float64) {
	i := math.Floor(h * 6)
	f := h*6 - i
	p, q, u := v*(1-s), v*(1-f*s), v*(1-(1-f)*s)
	switch int(i) % 6 {
	case 0:
		return v, u, p
	case 1:
		return q, v, p
	case 2:
		return p, v, u
	case 3:
		return p, q, v
	case 4:
		return u, p, v
	}
	return v, p, q
}

// hsvPixels are hand-picked colours (uint8 levels), one per column of the test image.
var hsvPixels = [][3]int{{0, 0, 0}, {255, 255, 255}, {128, 128, 128}, {51, 102, 153}, {200, 30, 90},
	{10, 250, 20}, {250, 240, 5}, {1, 2, 3}, {90, 60, 200}, {255, 0, 0}}

func TestBrightnessAndSaturateInHSV(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(sev int, h, s, v float64) (float64, float64, float64)
	}{
		{"brightness", func(sev int, h, s, v float64) (float64, float64, float64) {
			return h, s, min(v+brightnessShift[sev-1], 1)
		}},
		{"saturate", func(sev int, h, s, v float64) (float64, float64, float64) {
			c := saturateParams[sev-1]
			return h, min(max(s*c.scale+c.shift, 0), 1), v
		}},
	} {
		for sev := 1; sev <= 5; sev++ {
			n := len(hsvPixels)
			got := corrupt(t, tc.name, sev, 1, n, func(c, _, x int) float32 { return float32(hsvPixels[x][c]) / 255 })
			for x, p := range hsvPixels {
				h, s, v := hsv(float64(p[0])/255, float64(p[1])/255, float64(p[2])/255)
				r, g, b := rgb(tc.edit(sev, h, s, v))
				for c, want := range []float64{r, g, b} {
					w := int(want*255 + 1e-6)
					if d := level(got[c*n+x]) - w; d < -1 || d > 1 {
						t.Errorf("%s %d: pixel %v channel %d: level %d, want %d", tc.name, sev, p, c, level(got[c*n+x]), w)
					}
				}
			}
		}
	}
}

func TestPixelateBlockStructure(t *testing.T) {
	const n = 224
	src := randomImage(3)
	got := corrupt(t, "pixelate", 5, n, n, src) // 0.25: 56×56 boxes of 4×4 pixels
	for c := range 3 {
		for by := 0; by < n; by += 4 {
			for bx := 0; bx < n; bx += 4 {
				var s float64
				first := got[(c*n+by)*n+bx]
				for y := by; y < by+4; y++ {
					for x := bx; x < bx+4; x++ {
						s += float64(src(c, y, x)) * 255
						if got[(c*n+y)*n+x] != first {
							t.Fatalf("channel %d block (%d,%d) is not constant", c, by, bx)
						}
					}
				}
				// two passes (rows, then columns), each rounded: within a level of the block mean
				if d := float64(level(first)) - s/16; math.Abs(d) > 1 {
					t.Fatalf("channel %d block (%d,%d): level %d, block mean %.2f", c, by, bx, level(first), s/16)
				}
			}
		}
	}
}

// ijgLuma is the JPEG standard's luminance quantisation table (Annex K), in natural order.
var ijgLuma = [64]int{
	16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99}

// ijgTable is libjpeg's table for quality q: base·scale/100 rounded, clamped to 1..255.
func ijgTable(q int) []int {
	scale := 200 - 2*q
	if q < 50 {
		scale = 5000 / q
	}
	out := make([]int, 64)
	for i, b := range ijgLuma {
		out[i] = min(max((b*scale+50)/100, 1), 255)
	}
	return out
}

// TestJPEGQualityIndependentDecoder decodes the plugin's JPEGs with Pillow (libjpeg), an
// independent decoder: its quantisation table must be libjpeg's at the reference quality, and its
// pixels must agree with the Go decode the corruption returns.
func TestJPEGQualityIndependentDecoder(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import PIL, numpy").Run(); err != nil {
		t.Skipf("%s with Pillow and numpy is absent: %v", py, err)
	}
	const h, w = 224, 224
	p := photo(t)
	pix := func(c, y, x int) float32 { return p[(c*h+y)*w+x] }
	src := fromCHW(p, h, w)
	dir := t.TempDir()
	for sev := 1; sev <= 5; sev++ {
		q := jpegQuality[sev-1]
		data, err := encodeJPEG(src, q)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("q%d.jpg", q))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		script := `import sys, numpy as np; from PIL import Image
im = Image.open(sys.argv[1]); print(" ".join(map(str, im.quantization[0])))
print(" ".join(map(str, np.asarray(im.convert("RGB")).transpose(2, 0, 1).ravel())))`
		out, err := exec.Command(py, "-c", script, path).Output()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var table []int
		for _, f := range strings.Fields(lines[0]) {
			var v int
			fmt.Sscan(f, &v)
			table = append(table, v)
		}
		// Pillow lists the table in the file's (zig-zag) order; compare as multisets and extremes
		want := ijgTable(q)
		slices.Sort(table)
		slices.Sort(want)
		if !slices.Equal(table, want) {
			t.Errorf("quality %d: luminance table %v, want libjpeg's %v", q, table, want)
		}
		got := corrupt(t, "jpeg_compression", sev, h, w, pix)
		var sum, worst float64
		for i, f := range strings.Fields(lines[1]) {
			var v int
			fmt.Sscan(f, &v)
			d := math.Abs(float64(v - level(got[i])))
			sum, worst = sum+d, max(worst, d)
		}
		if mean := sum / float64(3*h*w); mean > 0.1 || worst > 3 {
			t.Errorf("quality %d: Go and libjpeg decodes differ by %.2f levels on average, %v at most", q, mean, worst)
		}
	}
}

func TestNoiseMoments(t *testing.T) {
	const n = 256
	x := 128. / 255
	// np.uint8 truncation lowers the mean by about half a level
	bias := -0.5 / 255
	for _, tc := range []struct {
		name         string
		sev          int
		mean, sd     float64
		zeros, ones  float64 // expected fractions of exact 0 and 1 (impulse)
		meanTol, rel float64
	}{
		{"gaussian_noise", 1, x + bias, 0.08, 0, 0, 0.001, 0.02},
		{"gaussian_noise", 2, x + bias, 0.12, 0, 0, 0.001, 0.02},
		{"shot_noise", 1, x + bias, math.Sqrt(x / 60), 0, 0, 0.001, 0.03},
		{"shot_noise", 3, x + bias, math.Sqrt(x / 12), 0, 0, 0.002, 0.03},
		{"speckle_noise", 1, x + bias, x * 0.15, 0, 0, 0.001, 0.02},
		{"impulse_noise", 3, x*(1-0.09) + 0.045 + bias*(1-0.09), 0, 0.045, 0.045, 0.002, 0},
	} {
		got := corrupt(t, tc.name, tc.sev, n, n, constant(float32(x)))
		var s, ss float64
		var zeros, ones int
		for _, v := range got {
			s += float64(v)
			ss += float64(v) * float64(v)
			if v == 0 {
				zeros++
			}
			if v == 1 {
				ones++
			}
		}
		m := s / float64(len(got))
		sd := math.Sqrt(ss/float64(len(got)) - m*m)
		if math.Abs(m-tc.mean) > tc.meanTol {
			t.Errorf("%s %d: mean %.5f, want %.5f", tc.name, tc.sev, m, tc.mean)
		}
		if tc.sd > 0 && math.Abs(sd-tc.sd) > tc.rel*tc.sd {
			t.Errorf("%s %d: sd %.5f, want %.5f", tc.name, tc.sev, sd, tc.sd)
		}
		if tc.zeros > 0 {
			fz, fo := float64(zeros)/float64(len(got)), float64(ones)/float64(len(got))
			if math.Abs(fz-tc.zeros) > 0.003 || math.Abs(fo-tc.ones) > 0.003 {
				t.Errorf("%s %d: fractions of 0 and 1 are %.4f and %.4f, want %.3f each", tc.name, tc.sev, fz, fo, tc.zeros)
			}
		}
	}
}

func delta(h, w int) func(int, int, int) float32 {
	return func(_, y, x int) float32 {
		if y == h/2 && x == w/2 {
			return 1
		}
		return 0
	}
}

func TestBlurKernelsOnDelta(t *testing.T) {
	const n = 41
	c := n / 2
	// gaussian_blur 1: the response is the outer product of scipy's sigma-1 kernel (radius 4), truncated
	got := corrupt(t, "gaussian_blur", 1, n, n, delta(n, n))
	k := make([]float64, 9)
	var s float64
	for i := range k {
		k[i] = math.Exp(-float64((i-4)*(i-4)) / 2)
		s += k[i]
	}
	for y := range n {
		for x := range n {
			want := 0
			if dy, dx := y-c+4, x-c+4; dy >= 0 && dy < 9 && dx >= 0 && dx < 9 {
				want = int(k[dy] * k[dx] / s / s * 255)
			}
			if g := level(got[y*n+x]); g != want {
				t.Errorf("gaussian_blur: (%d,%d) level %d, want %d", y, x, g, want)
			}
		}
	}
	// defocus_blur 1: radius 3 with a negligible anti-alias blur: 1/29 on the 29 lattice points of the disk
	got = corrupt(t, "defocus_blur", 1, n, n, delta(n, n))
	for y := range n {
		for x := range n {
			want := 0
			if (y-c)*(y-c)+(x-c)*(x-c) <= 9 {
				want = 255 / 29
			}
			if g := level(got[y*n+x]); g != want {
				t.Errorf("defocus_blur: (%d,%d) level %d, want %d", y, x, g, want)
			}
		}
	}
	// defocus at every severity: symmetric under the eight symmetries of the square, support within radius+2
	for sev := 2; sev <= 5; sev++ {
		got = corrupt(t, "defocus_blur", sev, n, n, delta(n, n))
		r := defocusParams[sev-1].radius
		for y := range n {
			for x := range n {
				v := got[y*n+x]
				for _, m := range [][2]int{{n - 1 - y, x}, {y, n - 1 - x}, {x, y}} {
					if got[m[0]*n+m[1]] != v {
						t.Fatalf("defocus %d: (%d,%d) ≠ its mirror %v", sev, y, x, m)
					}
				}
				if d := math.Hypot(float64(y-c), float64(x-c)); v != 0 && d > float64(r)+2 {
					t.Errorf("defocus %d: (%d,%d) at distance %.1f is lit, radius %d", sev, y, x, d, r)
				}
			}
		}
	}
	// motion_blur: the response lies on one ray from the delta (lit itself), summing to about 1; the
	// delta need not be brightest, as rounding sends neighbouring taps to one pixel (as in the reference)
	for sev := 1; sev <= 5; sev++ {
		const m = 81
		got = corrupt(t, "motion_blur", sev, m, m, delta(m, m))
		var sum float64
		var lit [][2]int
		for y := range m {
			for x := range m {
				if v := got[y*m+x]; v > 0 {
					sum += float64(v)
					lit = append(lit, [2]int{y - m/2, x - m/2})
				}
			}
		}
		width := 2*motionParams[sev-1].radius + 1
		if sum < 1-float64(width)/255 || sum > 1 {
			t.Errorf("motion_blur %d: response sums to %.3f", sev, sum)
		}
		if got[(m/2)*m+m/2] == 0 {
			t.Errorf("motion_blur %d: the delta itself is dark", sev)
		}
		far := lit[0] // all lit pixels are within a pixel of the line through the delta and the farthest one
		for _, p := range lit {
			if p[0]*p[0]+p[1]*p[1] > far[0]*far[0]+far[1]*far[1] {
				far = p
			}
		}
		l := math.Hypot(float64(far[0]), float64(far[1]))
		if l < float64(width)/3 {
			t.Errorf("motion_blur %d: the streak is only %.1f pixels long", sev, l)
		}
		for _, p := range lit {
			if d := math.Abs(float64(p[0]*far[1]-p[1]*far[0])) / l; d > 1 || p[0]*far[0]+p[1]*far[1] < 0 {
				t.Errorf("motion_blur %d: %v is %.2f pixels off the one-sided streak towards %v", sev, p, d, far)
			}
		}
	}
}

func TestConstantImagesStayConstant(t *testing.T) {
	for _, name := range []string{"glass_blur", "defocus_blur", "zoom_blur", "gaussian_blur", "elastic_transform", "pixelate", "contrast", "motion_blur"} {
		for sev := 1; sev <= 5; sev++ {
			for i, v := range corrupt(t, name, sev, 40, 56, constant(77./255)) {
				if level(v) != 77 && !(name == "zoom_blur" && level(v) == 76) {
					t.Fatalf("%s %d: value %d is level %d, want 77", name, sev, i, level(v))
				}
			}
		}
	}
}

func TestZoomBlurInvariants(t *testing.T) {
	const h, w = 60, 90
	ramp := func(_, _, x int) float32 { return float32(x*2) / 255 }
	for sev := 1; sev <= 5; sev++ {
		got := corrupt(t, "zoom_blur", sev, h, w, ramp)
		for y := 1; y < h; y++ { // an image constant down its columns stays so
			if !slices.Equal(got[y*w:(y+1)*w], got[:w]) {
				t.Fatalf("severity %d: row %d differs from row 0", sev, y)
			}
		}
		// zooming about the centre pulls values towards the centre column: the ramp flattens
		if l, r := level(got[0]), level(got[w-1]); l <= 0 || r >= 2*(w-1) {
			t.Errorf("severity %d: the ramp's ends are levels %d and %d, want inside (0, %d)", sev, l, r, 2*(w-1))
		}
	}
}

func TestFogBounds(t *testing.T) {
	x := 0.4
	for sev := 1; sev <= 5; sev++ {
		c := fogParams[sev-1].amount
		got := corrupt(t, "fog", sev, 50, 70, constant(float32(x)))
		lo, hi := x*x/(x+c), (x+c)*x/(x+c)
		var s, ss float64
		for _, v := range got {
			if float64(v) < lo-1.0/255 || float64(v) > hi+1e-6 {
				t.Fatalf("severity %d: %v outside [%v, %v]", sev, v, lo, hi)
			}
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		m := s / float64(len(got))
		if sd := math.Sqrt(ss/float64(len(got)) - m*m); sd < 0.01 {
			t.Errorf("severity %d: fog is flat (sd %.4f)", sev, sd)
		}
	}
}

func TestFrost(t *testing.T) {
	for sev := 1; sev <= 5; sev++ {
		b := frostParams[sev-1].frost
		got := corrupt(t, "frost", sev, 64, 96, constant(0)) // black: only the frost photo's share remains
		var peak float32
		for _, v := range got {
			peak = max(peak, v)
		}
		if float64(peak) > b+1e-6 || float64(peak) < b/3 {
			t.Errorf("severity %d: brightest value %.3f, want at most the frost weight %.2f (and some frost)", sev, peak, b)
		}
	}
	src := make([]float32, 3*32*32)
	dst := make([]float32, len(src))
	for _, dir := range []string{"", filepath.Join(t.TempDir(), "missing")} {
		err := Corrupt(dst, src, 32, 32, "frost", 1, 1, "k", dir)
		if err == nil || !strings.Contains(err.Error(), paramFrostDir) {
			t.Errorf("frost folder %q: error %v, want one naming %s", dir, err, paramFrostDir)
		}
	}
}

// deterministic lists the corruptions that draw no random numbers.
var deterministic = []string{"defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate", "jpeg_compression", "gaussian_blur", "saturate"}

func TestSeeding(t *testing.T) {
	const n = 48
	src := make([]float32, 3*n*n)
	pix := randomImage(9)
	for i := range src {
		src[i] = pix(i/(n*n), (i/n)%n, i%n)
	}
	dir := frostDir(t)
	run := func(name string, seed uint64, id string) []float32 {
		dst := make([]float32, len(src))
		if err := Corrupt(dst, src, n, n, name, 3, seed, id, dir); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	for _, c := range corruptions {
		a, b := run(c.name, 5, "img-1"), run(c.name, 5, "img-1")
		if !slices.Equal(a, b) {
			t.Errorf("%s: the same seed and sample gave different pixels", c.name)
		}
		same := slices.Equal(a, run(c.name, 5, "img-2")) && slices.Equal(a, run(c.name, 6, "img-1"))
		if want := slices.Contains(deterministic, c.name); same != want {
			t.Errorf("%s: another sample or seed gives the same pixels: %v, want %v", c.name, same, want)
		}
	}
}

func TestAnySize(t *testing.T) {
	for _, size := range [][2]int{{32, 32}, {37, 53}, {300, 190}} {
		h, w := size[0], size[1]
		src := randomImage(4)
		for _, c := range corruptions {
			for _, sev := range []int{1, 5} {
				got := corrupt(t, c.name, sev, h, w, src)
				changed := false
				for i, v := range got {
					if v < 0 || v > 1 || float32(level(v))/255 != v {
						t.Fatalf("%s %d on %d×%d: value %v is not a uint8 level in [0,1]", c.name, sev, h, w, v)
					}
					changed = changed || v != src(i/(h*w), (i/w)%h, i%w)
				}
				if !changed {
					t.Errorf("%s %d on %d×%d: the image is unchanged", c.name, sev, h, w)
				}
			}
		}
	}
}

func TestCorruptRejects(t *testing.T) {
	src := make([]float32, 3*8*8)
	for _, tc := range []struct {
		name string
		sev  int
		n    int
	}{{"blur", 1, len(src)}, {"fog", 0, len(src)}, {"fog", 6, len(src)}, {"fog", 1, len(src) - 1}} {
		dst := make([]float32, tc.n)
		if err := Corrupt(dst, src[:tc.n], 8, 8, tc.name, tc.sev, 1, "k", ""); err == nil {
			t.Errorf("%+v was accepted", tc)
		}
	}
}
