// Package synth generates synthetic cue-conflict stimuli: silhouettes of K shape classes filled with
// K texture classes, at random position, scale and rotation on a random background, every pixel
// determined by the seed and the item's identity.
//
// Class i is both shape i and texture i, so a model's decision on an image whose shape and texture
// disagree can be scored as a shape decision, a texture decision or neither (Geirhos et al. 2019).
//
// Every silhouette is scaled to the same area (size is no cue) and placed at a random centre,
// scale (12–29 % of the image), rotation and aspect ratio; edges are anti-aliased by 4×4
// supersampling. Texture classes differ in structure, frequency and orientation only: each image
// draws its own two texture colours, on average 0.08–0.16 apart per channel, about a mean at least
// 0.25 in luminance away from the background. Shapes are thus high-contrast and textures low-contrast, which is what lets
// adversarial training move a model from texture to shape (zoo/README.md tells the story). The
// background is a random low-saturation colour with smooth noise; every pixel gets uniform noise
// of ±0.03.
//
// Images are byte-identical for the same configuration on the same GOARCH; another architecture
// may fuse floating-point operations differently and change the odd pixel by one level.
package synth

import (
	"fmt"
	"hash/fnv"
	"image"
	"math/rand/v2"
	"slices"
	"strings"
)

// DefaultSize is the image side in pixels when Config.Size is zero.
const DefaultSize = 64

// DefaultPerPair is the number of images per (shape, texture) pair when Config.PerPair is zero.
const DefaultPerPair = 10

// DefaultClassCount is how many catalogue classes a Config without Classes uses.
const DefaultClassCount = 8

// SetKind selects which (shape, texture) combinations a set holds.
type SetKind int

const (
	// Conflict holds every pair with shape ≠ texture: the cue-conflict test set.
	Conflict SetKind = iota
	// Aligned holds shape = texture only, as in natural images: training and clean accuracy.
	Aligned
	// Stylised holds every pair including shape = texture: shapes with a random texture, the
	// texture-randomisation training set.
	Stylised
	// ShapeOnly holds silhouettes filled with a flat neutral grey: the shape cue alone.
	ShapeOnly
	// TextureOnly holds textures that fill the whole image without a silhouette: the texture cue alone.
	TextureOnly
)

var setNames = []string{"conflict", "aligned", "stylised", "shape-only", "texture-only"}

// String returns the set's name as written in study files ("conflict", "aligned", ...).
func (k SetKind) String() string {
	if k < 0 || int(k) >= len(setNames) {
		return fmt.Sprintf("SetKind(%d)", int(k))
	}
	return setNames[k]
}

// SetKinds lists every set kind in declaration order.
func SetKinds() []SetKind {
	return []SetKind{Conflict, Aligned, Stylised, ShapeOnly, TextureOnly}
}

// ParseSetKind returns the set kind named s (the String form, case-insensitive).
func ParseSetKind(s string) (SetKind, error) {
	i := slices.Index(setNames, strings.ToLower(strings.TrimSpace(s)))
	if i < 0 {
		return 0, fmt.Errorf("synth: unknown set %q (want one of %s)", s, strings.Join(setNames, ", "))
	}
	return SetKind(i), nil
}

// Config describes one generated set.
type Config struct {
	// Classes are catalogue class names in label order; empty means the first DefaultClassCount.
	Classes []string
	// Size is the image side in pixels (square images); 0 means DefaultSize.
	Size int
	// Seed determines every image together with the set kind and the item's ID.
	Seed uint64
	// PerPair is the number of images per (shape, texture) pair, or per class for ShapeOnly and
	// TextureOnly; 0 means DefaultPerPair.
	PerPair int
	// Set selects the combinations of shape and texture.
	Set SetKind
}

// Item identifies one image of a set.
type Item struct {
	// ID is the Geirhos-style relative path "<shape>/<shape><n>-<texture><n>.png"; ShapeOnly items
	// are "<shape>/<shape><n>.png" and TextureOnly items "<texture>/<texture><n>.png".
	ID string
	// Shape is the shape class index, -1 for TextureOnly.
	Shape int
	// Texture is the texture class index, -1 for ShapeOnly.
	Texture int
}

// Label is the item's class in an image-folder reading (its directory): the shape class, or the
// texture class for TextureOnly items.
func (it Item) Label() int {
	if it.Shape < 0 {
		return it.Texture
	}
	return it.Shape
}

// Generator renders the items of one Config. It is immutable and safe for concurrent use.
type Generator struct {
	cfg     Config
	classes []class
}

// New validates cfg, fills its defaults and returns its generator.
func New(cfg Config) (*Generator, error) {
	if len(cfg.Classes) == 0 {
		cfg.Classes = DefaultClasses()
	}
	if cfg.Size == 0 {
		cfg.Size = DefaultSize
	}
	if cfg.PerPair == 0 {
		cfg.PerPair = DefaultPerPair
	}
	switch {
	case cfg.Size < 8 || cfg.Size > 4096:
		return nil, fmt.Errorf("synth: size %d out of range [8, 4096]", cfg.Size)
	case cfg.PerPair < 0:
		return nil, fmt.Errorf("synth: per_pair %d is negative", cfg.PerPair)
	case cfg.Set < Conflict || cfg.Set > TextureOnly:
		return nil, fmt.Errorf("synth: unknown set kind %d", int(cfg.Set))
	case len(cfg.Classes) < 2:
		return nil, fmt.Errorf("synth: %d classes, need at least 2", len(cfg.Classes))
	}
	g := &Generator{cfg: cfg}
	seen := map[string]bool{}
	for _, name := range cfg.Classes {
		c, ok := lookupClass(name)
		if !ok {
			return nil, fmt.Errorf("synth: unknown class %q (known: %s)", name, strings.Join(ClassNames(), ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("synth: class %q listed twice", name)
		}
		seen[name] = true
		g.classes = append(g.classes, c)
	}
	g.cfg.Classes = slices.Clone(cfg.Classes)
	return g, nil
}

// Config returns the generator's configuration with defaults filled in.
func (g *Generator) Config() Config {
	c := g.cfg
	c.Classes = slices.Clone(c.Classes)
	return c
}

// Classes returns the class names in label order: class i is shape i and texture i.
func (g *Generator) Classes() []string { return slices.Clone(g.cfg.Classes) }

// Items lists the set's items in a fixed order: by shape, then texture, then instance number.
func (g *Generator) Items() []Item {
	k, n := len(g.classes), g.cfg.PerPair
	var items []Item
	add := func(s, t int) {
		for i := 1; i <= n; i++ {
			items = append(items, Item{ID: g.itemID(s, t, i), Shape: s, Texture: t})
		}
	}
	for s := 0; s < k; s++ {
		switch g.cfg.Set {
		case ShapeOnly:
			add(s, -1)
		case TextureOnly:
			add(-1, s)
		case Aligned:
			add(s, s)
		default:
			for t := 0; t < k; t++ {
				if t != s || g.cfg.Set == Stylised {
					add(s, t)
				}
			}
		}
	}
	return items
}

func (g *Generator) itemID(s, t, i int) string {
	switch {
	case t < 0:
		name := g.classes[s].name
		return fmt.Sprintf("%s/%s%d.png", name, name, i)
	case s < 0:
		name := g.classes[t].name
		return fmt.Sprintf("%s/%s%d.png", name, name, i)
	}
	sn, tn := g.classes[s].name, g.classes[t].name
	return fmt.Sprintf("%s/%s%d-%s%d.png", sn, sn, i, tn, i)
}

// Render draws one item. The image depends only on the seed, the set kind, the size and the item
// (by ID and class names), never on other items, so any subset can be rendered in any order.
// it.Shape and it.Texture must be -1 or valid class indices of g.
func (g *Generator) Render(it Item) *image.RGBA {
	img, _ := g.render(it)
	return img
}

// itemRand returns the item's random source: PCG seeded by the study seed and a hash of the set
// kind and the item ID.
func (g *Generator) itemRand(it Item) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(g.cfg.Set.String()))
	h.Write([]byte{0})
	h.Write([]byte(it.ID))
	return rand.New(rand.NewPCG(g.cfg.Seed, h.Sum64()))
}
