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
	plane := g.Height * g.Width
	for i := range plane {
		out[i] = unitScale[rgb[3*i]]
		out[plane+i] = unitScale[rgb[3*i+1]]
		out[2*plane+i] = unitScale[rgb[3*i+2]]
	}
	return nil
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
	if err := g.Validate(); err != nil {
		return nil, err
	}
	src := toRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	if w == 0 || h == 0 {
		return nil, fmt.Errorf("load: preprocess: image has no pixels (%dx%d)", w, h)
	}
	ow, oh := g.resizedSize(w, h)
	if ow < g.Width || oh < g.Height {
		if g.Resize == 0 {
			return nil, fmt.Errorf("load: preprocess: image %dx%d is smaller than the crop %dx%d and geometry %s does not resize",
				w, h, g.Width, g.Height, g.Key())
		}
		return nil, fmt.Errorf("load: preprocess: image %dx%d resized to %dx%d is smaller than the crop %dx%d",
			w, h, ow, oh, g.Width, g.Height)
	}
	crop := centerCrop(ow, oh, g.Width, g.Height)
	r.out = grow(r.out, 3*crop.Dx()*crop.Dy())
	r.resizeCrop(r.out, src, ow, oh, crop)
	return r.out, nil
}

// centerCrop is torchvision CenterCrop's window: top = int(round((h - ch) / 2.0)) with Python's
// round-half-to-even, left likewise.
func centerCrop(w, h, cw, ch int) image.Rectangle {
	top := int(math.RoundToEven(float64(h-ch) / 2))
	left := int(math.RoundToEven(float64(w-cw) / 2))
	return image.Rect(left, top, left+cw, top+ch)
}
