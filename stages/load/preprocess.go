package load

import (
	"fmt"
	"image"
	"math"
	"slices"
)

// unitScale maps a byte to torchvision ToTensor's float32(v) / 255.
var unitScale = func() (t [256]float32) {
	for v := range t {
		t[v] = float32(v) / 255
	}
	return t
}()

// Preprocess returns img as torchvision's Resize(g.Resize), CenterCrop(g.Height, g.Width), ToTensor() would: [3,H,W] in [0,1].
func Preprocess(img image.Image, g Geometry) ([]float32, error) {
	out := make([]float32, 3*g.Height*g.Width)
	if err := preprocessInto(out, img, g); err != nil {
		return nil, err
	}
	return out, nil
}

// PreprocessInto is Preprocess writing into out, which must hold 3·Height·Width values: a caller that
// reuses out allocates nothing per image but the decoded pixels.
func PreprocessInto(out []float32, img image.Image, g Geometry) error {
	if len(out) != 3*g.Height*g.Width {
		return fmt.Errorf("load: preprocess: output holds %d values, geometry %s needs %d", len(out), g.Key(), 3*g.Height*g.Width)
	}
	return preprocessInto(out, img, g)
}

// preprocessInto is Preprocess writing into out (len 3·Height·Width).
func preprocessInto(out []float32, img image.Image, g Geometry) error {
	r := resamplers.get()
	defer resamplers.put(r)
	rgb, err := r.cropImage(img, g)
	if err != nil {
		return err
	}
	toPlanes(out, rgb)
	return nil
}

// toPlanes writes packed RGB bytes into out as ToTensor's [3,H,W] planes in [0,1].
func toPlanes(out []float32, rgb []uint8) {
	plane := len(rgb) / 3
	out = out[:3*plane]
	for i := range plane {
		out[i] = unitScale[rgb[3*i]]
		out[plane+i] = unitScale[rgb[3*i+1]]
		out[2*plane+i] = unitScale[rgb[3*i+2]]
	}
}

// resizeCropImage resizes and centre-crops img per g, returning packed RGB rows of the crop.
func resizeCropImage(img image.Image, g Geometry) ([]uint8, error) {
	r := resamplers.get()
	defer resamplers.put(r)
	rgb, err := r.cropImage(img, g)
	return slices.Clone(rgb), err
}

// cropImage is resizeCropImage into r's own buffer (valid until r is used again).
func (r *resampler) cropImage(img image.Image, g Geometry) ([]uint8, error) {
	src := toRGBA(img)
	if _, err := r.planCrop(src.Rect.Dx(), src.Rect.Dy(), g); err != nil {
		return nil, err
	}
	return r.applyCrop(src), nil
}

// planCrop checks g against a w×h image and prepares r for its resize and centre crop, returning
// the source rectangle they read.
func (r *resampler) planCrop(w, h int, g Geometry) (image.Rectangle, error) {
	if err := g.Validate(); err != nil {
		return image.Rectangle{}, err
	}
	if w == 0 || h == 0 {
		return image.Rectangle{}, fmt.Errorf("load: preprocess: image has no pixels (%dx%d)", w, h)
	}
	ow, oh := g.resizedSize(w, h)
	if ow < g.Width || oh < g.Height {
		if g.Resize == 0 {
			return image.Rectangle{}, fmt.Errorf("load: preprocess: image %dx%d is smaller than the crop %dx%d and geometry %s does not resize",
				w, h, g.Width, g.Height, g.Key())
		}
		return image.Rectangle{}, fmt.Errorf("load: preprocess: image %dx%d resized to %dx%d is smaller than the crop %dx%d",
			w, h, ow, oh, g.Width, g.Height)
	}
	return r.prepare(w, h, ow, oh, centerCrop(ow, oh, g.Width, g.Height)), nil
}

// applyCrop carries out the plan of planCrop on src (which covers the rectangle it returned) into
// r's own buffer (valid until r is used again).
func (r *resampler) applyCrop(src *image.RGBA) []uint8 {
	r.out = grow(r.out, 3*r.crop.Dx()*r.crop.Dy())
	r.apply(r.out, src)
	return r.out
}

// centerCrop is torchvision CenterCrop's window: top = int(round((h - ch) / 2.0)) with Python's
// round-half-to-even, left likewise.
func centerCrop(w, h, cw, ch int) image.Rectangle {
	top := int(math.RoundToEven(float64(h-ch) / 2))
	left := int(math.RoundToEven(float64(w-cw) / 2))
	return image.Rect(left, top, left+cw, top+ch)
}
