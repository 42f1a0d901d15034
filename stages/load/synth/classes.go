package synth

import (
	"math"
	"slices"
	"sync"
)

// Class describes one catalogue class: its silhouette and the texture that goes with it in
// aligned (natural-looking) images.
type Class struct {
	// Name is the class name, used in file names and as the label name.
	Name string
	// Shape describes the silhouette.
	Shape string
	// Texture describes the texture class of the same index.
	Texture string
}

// class is a catalogue entry ready to render.
type class struct {
	name      string
	shapeDesc string
	shape     shapeFunc // normalised: centre of mass at 0, area unitArea
	extent    float64   // largest distance of an inside point from the centre
	tex       texture
}

// catalogueSpec lists every class in catalogue order; DefaultClasses takes the first
// DefaultClassCount. Textures differ in structure, frequency and orientation; their colours
// are random per image.
var catalogueSpec = []struct {
	name, shapeDesc string
	shape           shapeFunc
	tex             texture
}{
	{"circle", "disc", circle, texture{stripes, 8, math.Pi / 2, "horizontal stripes, 8 cycles"}},
	{"square", "square", square, texture{dots, 7, 0, "dots, 7 per side"}},
	{"triangle", "equilateral triangle", triangle, texture{checkers, 5, 0, "checkers, 5 cycles"}},
	{"star", "five-pointed star", star, texture{waves, 8, math.Pi / 2, "wavy lines, 8 cycles"}},
	{"cross", "plus sign", cross, texture{blotches, 6, 0, "blotches, 6 per side"}},
	{"ring", "annulus", ringShape, texture{stripes, 14, math.Pi / 4, "fine diagonal stripes, 14 cycles"}},
	{"heart", "heart", heart, texture{grid, 6, 0, "grid, 6 cycles"}},
	{"arrow", "arrow", arrow, texture{blotches, 20, 0, "speckle, 20 per side"}},
	{"diamond", "rhombus", diamond, texture{stripes, 4, 0, "thick vertical bars, 4 cycles"}},
	{"crescent", "crescent moon", crescent, texture{rings, 7, 0, "concentric rings, 7 cycles"}},
	{"tee", "letter T", tee, texture{zigzag, 8, math.Pi / 2, "zigzag, 8 cycles"}},
	{"hourglass", "bow tie", hourglass, texture{crosshatch, 7, 0, "crosshatch, 7 cycles"}},
}

var (
	catalogueOnce sync.Once
	catalogue     []class
)

// classes returns the catalogue with its silhouettes normalised (computed once).
func classes() []class {
	catalogueOnce.Do(func() {
		for _, s := range catalogueSpec {
			f := normalised(s.shape)
			catalogue = append(catalogue, class{name: s.name, shapeDesc: s.shapeDesc, shape: f, extent: extent(f, 400), tex: s.tex})
		}
	})
	return catalogue
}

func lookupClass(name string) (class, bool) {
	i := slices.IndexFunc(classes(), func(c class) bool { return c.name == name })
	if i < 0 {
		return class{}, false
	}
	return classes()[i], true
}

// Catalogue lists every class the generator knows, in catalogue order.
func Catalogue() []Class {
	out := make([]Class, len(catalogueSpec))
	for i, s := range catalogueSpec {
		out[i] = Class{Name: s.name, Shape: s.shapeDesc, Texture: s.tex.desc}
	}
	return out
}

// ClassNames lists every catalogue class name in catalogue order.
func ClassNames() []string {
	out := make([]string, len(catalogueSpec))
	for i, s := range catalogueSpec {
		out[i] = s.name
	}
	return out
}

// DefaultClasses returns the class names a Config without Classes uses: the first
// DefaultClassCount of the catalogue.
func DefaultClasses() []string { return ClassNames()[:DefaultClassCount] }
