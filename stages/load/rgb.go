package load

import (
	"image"
	"image/color"
)

// toRGBA converts img to an opaque *image.RGBA with origin (0,0), as PIL's convert("RGB") would:
// alpha is dropped (straight colour kept), 16-bit samples keep their high byte, grey is replicated.
// An *image.RGBA already at the origin is returned as is: its pixels are used as stored.
func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrToRGBA(out, m)
	case *image.Gray:
		rows(out, func(y int, dst []uint8) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range b.Dx() {
				v := src[x]
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = v, v, v, 255
			}
		})
	case *image.NRGBA:
		rows(out, func(y int, dst []uint8) {
			copy(dst, m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):])
			for x := range b.Dx() {
				dst[4*x+3] = 255
			}
		})
	case *image.RGBA:
		rows(out, func(y int, dst []uint8) {
			copy(dst, m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):])
			for x := range b.Dx() {
				dst[4*x+3] = 255
			}
		})
	case *image.CMYK:
		rows(out, func(y int, dst []uint8) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range b.Dx() {
				dst[4*x], dst[4*x+1], dst[4*x+2] = cmykToRGB(src[4*x], src[4*x+1], src[4*x+2], src[4*x+3])
				dst[4*x+3] = 255
			}
		})
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range m.Palette {
			if i < 256 {
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				pal[i] = [3]uint8{n.R, n.G, n.B}
			}
		}
		rows(out, func(y int, dst []uint8) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range b.Dx() {
				p := pal[src[x]]
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = p[0], p[1], p[2], 255
			}
		})
	default:
		// 16-bit and other images: straight (non-premultiplied) colour, high byte.
		rows(out, func(y int, dst []uint8) {
			for x := range b.Dx() {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8), 255
			}
		})
	}
	return out
}

// rows calls fill with each row of out's pixels.
func rows(out *image.RGBA, fill func(y int, dst []uint8)) {
	w := out.Rect.Dx()
	for y := range out.Rect.Dy() {
		fill(y, out.Pix[y*out.Stride:y*out.Stride+4*w])
	}
}

// clampByte limits v to 0..255 (libjpeg's range_limit, Pillow's clip8).
func clampByte(v int32) uint8 {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

// cmykToRGB is Pillow's cmyk2rgb: each channel is (255-k) - round((255-k)·ink/255).
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - int(k)
	ch := func(v uint8) uint8 { return uint8(nk - mulDiv255(int(v), nk)) }
	return ch(c), ch(m), ch(y)
}

// mulDiv255 is Pillow's MULDIV255: a·b/255 rounded, in integer arithmetic.
func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}
