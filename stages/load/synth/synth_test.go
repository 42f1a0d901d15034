package synth

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func mustNew(t *testing.T, cfg Config) *Generator {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return g
}

func pngBytes(t *testing.T, g *Generator, it Item) []byte {
	t.Helper()
	b, err := EncodePNG(g.Render(it))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSetKind(t *testing.T) {
	for _, k := range SetKinds() {
		got, err := ParseSetKind(" " + k.String() + " ")
		if err != nil || got != k {
			t.Errorf("ParseSetKind(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	if _, err := ParseSetKind("stylized-typo"); err == nil {
		t.Error("ParseSetKind accepted an unknown name")
	}
	if got := SetKind(9).String(); got != "SetKind(9)" {
		t.Errorf("String of an unknown kind = %q", got)
	}
}

func TestNewDefaultsAndErrors(t *testing.T) {
	g := mustNew(t, Config{})
	cfg := g.Config()
	if cfg.Size != DefaultSize || cfg.PerPair != DefaultPerPair || len(cfg.Classes) != DefaultClassCount || cfg.Set != Conflict {
		t.Errorf("defaults not filled: %+v", cfg)
	}
	bad := []struct {
		name string
		cfg  Config
	}{
		{"unknown class", Config{Classes: []string{"circle", "blob"}}},
		{"duplicate class", Config{Classes: []string{"circle", "circle"}}},
		{"one class", Config{Classes: []string{"circle"}}},
		{"tiny size", Config{Size: 4}},
		{"negative per pair", Config{PerPair: -1}},
		{"unknown set", Config{Set: SetKind(7)}},
	}
	for _, tc := range bad {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: New accepted %+v", tc.name, tc.cfg)
		}
	}
}

var (
	pairID   = regexp.MustCompile(`^([a-z]+)/([a-z]+)(\d+)-([a-z]+)(\d+)\.png$`)
	singleID = regexp.MustCompile(`^([a-z]+)/([a-z]+)(\d+)\.png$`)
)

func TestItems(t *testing.T) {
	const k, n = 8, 3
	cases := []struct {
		set  SetKind
		want int
	}{
		{Conflict, k * (k - 1) * n},
		{Aligned, k * n},
		{Stylised, k * k * n},
		{ShapeOnly, k * n},
		{TextureOnly, k * n},
	}
	for _, tc := range cases {
		t.Run(tc.set.String(), func(t *testing.T) {
			g := mustNew(t, Config{PerPair: n, Set: tc.set})
			items := g.Items()
			if len(items) != tc.want {
				t.Fatalf("%d items, want %d", len(items), tc.want)
			}
			names := g.Classes()
			seen := map[string]bool{}
			for _, it := range items {
				if seen[it.ID] {
					t.Fatalf("duplicate ID %s", it.ID)
				}
				seen[it.ID] = true
				if m := pairID.FindStringSubmatch(it.ID); m != nil {
					if m[1] != m[2] || m[3] != m[5] || names[it.Shape] != m[2] || names[it.Texture] != m[4] {
						t.Errorf("ID %s does not name shape %d and texture %d", it.ID, it.Shape, it.Texture)
					}
				} else if m := singleID.FindStringSubmatch(it.ID); m == nil || m[1] != m[2] || names[it.Label()] != m[1] {
					t.Errorf("ID %s is not <class>/<class><n>.png of label %d", it.ID, it.Label())
				}
				switch tc.set {
				case Conflict:
					if it.Shape == it.Texture {
						t.Errorf("conflict item %s has shape == texture", it.ID)
					}
				case Aligned:
					if it.Shape != it.Texture {
						t.Errorf("aligned item %s has shape != texture", it.ID)
					}
				case ShapeOnly:
					if it.Texture != -1 || it.Label() != it.Shape {
						t.Errorf("shape-only item %s: %+v", it.ID, it)
					}
				case TextureOnly:
					if it.Shape != -1 || it.Label() != it.Texture {
						t.Errorf("texture-only item %s: %+v", it.ID, it)
					}
				}
			}
		})
	}
}

func TestRenderDeterministic(t *testing.T) {
	for _, set := range SetKinds() {
		t.Run(set.String(), func(t *testing.T) {
			cfg := Config{Seed: 7, PerPair: 1, Set: set}
			a, b := mustNew(t, cfg), mustNew(t, cfg)
			cfg.Seed = 8
			other := mustNew(t, cfg)
			items := a.Items()
			// Render b in reverse order: an image must not depend on what was rendered before it.
			fromB := map[string][]byte{}
			for i := len(items) - 1; i >= 0; i-- {
				fromB[items[i].ID] = pngBytes(t, b, items[i])
			}
			for _, it := range items {
				pa := pngBytes(t, a, it)
				if !bytes.Equal(pa, fromB[it.ID]) {
					t.Errorf("%s: same seed, different PNG bytes", it.ID)
				}
				if bytes.Equal(pa, pngBytes(t, other, it)) {
					t.Errorf("%s: seeds 7 and 8 give the same image", it.ID)
				}
			}
		})
	}
}

func TestRenderIndependentOfClassOrder(t *testing.T) {
	// The image is a function of the item's class names, not of their indices.
	a := mustNew(t, Config{Seed: 3, PerPair: 1, Set: Aligned, Classes: []string{"star", "ring", "arrow"}})
	b := mustNew(t, Config{Seed: 3, PerPair: 1, Set: Aligned, Classes: []string{"arrow", "star"}})
	pa := pngBytes(t, a, Item{ID: "star/star1-star1.png", Shape: 0, Texture: 0})
	pb := pngBytes(t, b, Item{ID: "star/star1-star1.png", Shape: 1, Texture: 1})
	if !bytes.Equal(pa, pb) {
		t.Error("the same item renders differently under another class list")
	}
}

func TestRenderSize(t *testing.T) {
	for _, size := range []int{16, 33, 224} {
		g := mustNew(t, Config{Size: size, PerPair: 1})
		img := g.Render(g.Items()[0])
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Errorf("size %d: bounds %v", size, b)
		}
	}
}

func TestNormalisedShapes(t *testing.T) {
	// Measured on a finer grid than normalised uses: every silhouette has unitArea, centroid 0.
	for _, c := range classes() {
		in, cx, cy := 0, 0.0, 0.0
		forInside(c.shape, 1000, func(x, y float64) { in, cx, cy = in+1, cx+x, cy+y })
		area := 16 * float64(in) / 1e6
		if math.Abs(area/unitArea-1) > 0.01 {
			t.Errorf("%s: area %.4f, want %.4f", c.name, area, unitArea)
		}
		if math.Hypot(cx/float64(in), cy/float64(in)) > 0.01 {
			t.Errorf("%s: centroid (%.3f, %.3f), want 0", c.name, cx/float64(in), cy/float64(in))
		}
	}
}

func TestShapeCoverage(t *testing.T) {
	const n = 30
	g := mustNew(t, Config{Seed: 11, PerPair: n, Set: ShapeOnly, Classes: ClassNames()})
	for s, name := range g.Classes() {
		hashes := map[[32]byte]bool{}
		var sum float64
		for i := 1; i <= n; i++ {
			it := Item{ID: fmt.Sprintf("%s/%s%d.png", name, name, i), Shape: s, Texture: -1}
			img, cover := g.render(it)
			frac := mean(cover)
			sum += frac
			if frac < 0.10 || frac > 0.60 {
				t.Errorf("%s: coverage %.3f outside [0.10, 0.60]", it.ID, frac)
			}
			// The fill is a neutral grey and pixel noise is the same in every channel, so fully
			// covered pixels are grey: the coverage mask and the image agree.
			for p, c := range cover {
				px := img.Pix[4*p : 4*p+3]
				if c == 1 && (px[0] != px[1] || px[1] != px[2]) {
					t.Fatalf("%s: covered pixel %d is not grey: %v", it.ID, p, px)
				}
			}
			hashes[sha256.Sum256(img.Pix)] = true
		}
		if len(hashes) != n {
			t.Errorf("%s: %d distinct images of %d", name, len(hashes), n)
		}
		t.Logf("%-9s mean coverage %.3f", name, sum/n)
	}
}

func TestTextureOnlyCoversImage(t *testing.T) {
	g := mustNew(t, Config{Seed: 5, PerPair: 2, Set: TextureOnly})
	for _, it := range g.Items() {
		if _, cover := g.render(it); mean(cover) != 1 {
			t.Errorf("%s: coverage %.3f, want 1", it.ID, mean(cover))
		}
	}
}

func TestWriteDirMatchesRender(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Seed: 2, PerPair: 1, Set: Conflict, Classes: []string{"circle", "cross", "heart"}, Size: 32}
	if err := WriteDir(dir, cfg); err != nil {
		t.Fatal(err)
	}
	g := mustNew(t, cfg)
	for _, it := range g.Items() {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(it.ID)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pngBytes(t, g, it)) {
			t.Errorf("%s: file differs from Render", it.ID)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.png"))
	if len(files) != 6 {
		t.Errorf("%d files written, want 6", len(files))
	}
	if err := WriteDir(filepath.Join(dir, "circle", "circle1-cross1.png"), cfg); err == nil {
		t.Error("WriteDir under a file succeeded")
	}
}

func mean(xs []float32) float64 {
	s := 0.0
	for _, x := range xs {
		s += float64(x)
	}
	return s / float64(len(xs))
}
