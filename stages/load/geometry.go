package load

import "fmt"

// maxSide bounds every geometry side, so that a typo cannot ask for a giant tensor.
const maxSide = 16384

// Geometry is how a decoded image becomes a model input: resize the shorter side, then centre-crop.
type Geometry struct {
	Resize        int // shorter side after resizing, before the crop; 0 = no resize (images must be at least the crop)
	Height, Width int // centre-crop size
}

// Key names the geometry in file and unit names: "r256-c224x224", or "c224x224" without a resize.
func (g Geometry) Key() string {
	if g.Resize == 0 {
		return fmt.Sprintf("c%dx%d", g.Height, g.Width)
	}
	return fmt.Sprintf("r%d-c%dx%d", g.Resize, g.Height, g.Width)
}

// Validate reports a geometry that cannot produce a crop of every image.
func (g Geometry) Validate() error {
	switch {
	case g.Height <= 0 || g.Width <= 0:
		return fmt.Errorf("load: geometry %s: crop height and width must be positive", g.Key())
	case g.Height > maxSide || g.Width > maxSide || g.Resize > maxSide:
		return fmt.Errorf("load: geometry %s: sides above %d are not supported", g.Key(), maxSide)
	case g.Resize < 0:
		return fmt.Errorf("load: geometry %s: resize must be positive, or 0 for none", g.Key())
	case g.Resize > 0 && (g.Height > g.Resize || g.Width > g.Resize):
		// The shorter side becomes Resize, so a larger crop would not fit every image.
		return fmt.Errorf("load: geometry %s: crop %dx%d is larger than the resized shorter side %d",
			g.Key(), g.Height, g.Width, g.Resize)
	}
	return nil
}

// resizedSize is torchvision Resize(int)'s output size for a w×h image: the shorter side becomes
// g.Resize and the longer int(Resize*long/short) (Python's float division, then truncation).
func (g Geometry) resizedSize(w, h int) (int, int) {
	if g.Resize == 0 {
		return w, h
	}
	if w <= h {
		return g.Resize, int(float64(g.Resize*h) / float64(w))
	}
	return int(float64(g.Resize*w) / float64(h)), g.Resize
}
