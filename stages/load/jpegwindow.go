//go:build cgo && !nolibjpeg

package load

// Windowed JPEG decoding through libjpeg's own API (Debian's libjpeg62-turbo, the library PIL links):
// only the source rectangle that resize + centre crop read is decoded. Rows above it are entropy-decoded
// and skipped (jpeg_skip_scanlines), rows below it are never decoded, and columns outside it skip the
// IDCT, upsampling and colour conversion (jpeg_crop_scanline). Every pixel inside the rectangle is
// libjpeg's full-image pixel, so the crop is PIL's bit for bit (TestWindowedDecodeMatchesPIL). The
// library is opened at run time; the header is needed at build time (libjpeg62-turbo-dev) and, where
// it is missing (or CGO_CFLAGS has -DVS_NO_JPEGLIB, as `make test` checks), this path is compiled out
// and whole images are decoded through TurboJPEG, to the same pixels.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if !defined(VS_NO_JPEGLIB) && __has_include(<jpeglib.h>) && __has_include(<jerror.h>)
#include <jpeglib.h>
#include <jerror.h>
#define VS_JW_HAVE 1
#endif
#endif

#ifdef VS_JW_HAVE
static struct {
	struct jpeg_error_mgr *(*std_error)(struct jpeg_error_mgr *);
	void (*create)(j_decompress_ptr, int, size_t);
	void (*destroy)(j_decompress_ptr);
	void (*mem_src)(j_decompress_ptr, const unsigned char *, unsigned long);
	int (*read_header)(j_decompress_ptr, boolean);
	void (*calc_output)(j_decompress_ptr);
	boolean (*start)(j_decompress_ptr);
	void (*crop)(j_decompress_ptr, JDIMENSION *, JDIMENSION *);
	JDIMENSION (*skip)(j_decompress_ptr, JDIMENSION);
	JDIMENSION (*read)(j_decompress_ptr, JSAMPARRAY, JDIMENSION);
	boolean (*finish)(j_decompress_ptr);
	void (*abort_)(j_decompress_ptr);
} vs_jl;

// vs_jw_open loads libjpeg and its symbols; it returns NULL or what went wrong.
static const char *vs_jw_open(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) return dlerror();
	vs_jl.std_error = dlsym(lib, "jpeg_std_error");
	vs_jl.create = dlsym(lib, "jpeg_CreateDecompress");
	vs_jl.destroy = dlsym(lib, "jpeg_destroy_decompress");
	vs_jl.mem_src = dlsym(lib, "jpeg_mem_src");
	vs_jl.read_header = dlsym(lib, "jpeg_read_header");
	vs_jl.calc_output = dlsym(lib, "jpeg_calc_output_dimensions");
	vs_jl.start = dlsym(lib, "jpeg_start_decompress");
	vs_jl.crop = dlsym(lib, "jpeg_crop_scanline");
	vs_jl.skip = dlsym(lib, "jpeg_skip_scanlines");
	vs_jl.read = dlsym(lib, "jpeg_read_scanlines");
	vs_jl.finish = dlsym(lib, "jpeg_finish_decompress");
	vs_jl.abort_ = dlsym(lib, "jpeg_abort_decompress");
	if (!vs_jl.std_error || !vs_jl.create || !vs_jl.destroy || !vs_jl.mem_src || !vs_jl.read_header ||
	    !vs_jl.calc_output || !vs_jl.start || !vs_jl.crop || !vs_jl.skip || !vs_jl.read || !vs_jl.finish || !vs_jl.abort_)
		return "a libjpeg-turbo 1.5+ symbol (jpeg_crop_scanline, jpeg_skip_scanlines, jpeg_mem_src) is missing";
	return NULL;
}

// vs_jw is one decompressor with the error manager that returns to the C call in progress.
typedef struct {
	struct jpeg_decompress_struct d;
	struct jpeg_error_mgr e;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
	int eof; // libjpeg warned that the data ended early (JWRN_JPEG_EOF)
} vs_jw;

static void vs_jw_error_exit(j_common_ptr c) {
	vs_jw *h = (vs_jw *)c;
	(*c->err->format_message)(c, h->msg);
	longjmp(h->jb, 1);
}

// Warnings (corrupt data libjpeg decodes through) are recorded, never printed.
static void vs_jw_emit(j_common_ptr c, int level) {
	vs_jw *h = (vs_jw *)c;
	if (level >= 0) return; // trace messages
	if (c->err->msg_code == JWRN_JPEG_EOF) h->eof = 1;
	if (c->err->num_warnings++ == 0) (*c->err->format_message)(c, h->msg);
}

static vs_jw *vs_jw_new(void) {
	vs_jw *h = calloc(1, sizeof(vs_jw));
	if (h == NULL) return NULL;
	h->d.err = vs_jl.std_error(&h->e);
	h->e.error_exit = vs_jw_error_exit;
	h->e.emit_message = vs_jw_emit;
	if (setjmp(h->jb)) {
		free(h);
		return NULL;
	}
	vs_jl.create(&h->d, JPEG_LIB_VERSION, sizeof(struct jpeg_decompress_struct));
	return h;
}

static void vs_jw_free(vs_jw *h) {
	vs_jl.destroy(&h->d);
	free(h);
}

// vs_jw_reset leaves h ready for the next image, whatever state the last one left it in.
static void vs_jw_reset(vs_jw *h) { vs_jl.abort_(&h->d); }

// vs_jw_scale sets the output scale to 1/denom and gives the output size and iMCU size in pixels.
static void vs_jw_scale(vs_jw *h, int denom, int *w, int *ht, int *imcu_w, int *imcu_h) {
	h->d.scale_num = 1;
	h->d.scale_denom = denom;
	vs_jl.calc_output(&h->d);
	*w = h->d.output_width;
	*ht = h->d.output_height;
	*imcu_w = h->d.max_h_samp_factor * h->d.min_DCT_scaled_size;
	*imcu_h = h->d.max_v_samp_factor * h->d.min_DCT_scaled_size;
}

// vs_jw_header reads the header of data and sets the output: RGBA (CMYK for CMYK and YCCK files),
// ISLOW IDCT, full size (vs_jw_scale). It returns 0, or -1 with h->msg.
static int vs_jw_header(vs_jw *h, const unsigned char *data, unsigned long n,
                        int *w, int *ht, int *cmyk, int *imcu_w, int *imcu_h) {
	h->msg[0] = 0;
	h->eof = 0;
	h->e.num_warnings = 0;
	if (setjmp(h->jb)) {
		vs_jl.abort_(&h->d);
		return -1;
	}
	vs_jl.mem_src(&h->d, data, n);
	if (vs_jl.read_header(&h->d, TRUE) != JPEG_HEADER_OK) {
		strcpy(h->msg, "no image in the data (tables only)");
		vs_jl.abort_(&h->d);
		return -1;
	}
	*cmyk = h->d.jpeg_color_space == JCS_CMYK || h->d.jpeg_color_space == JCS_YCCK;
	h->d.out_color_space = *cmyk ? JCS_CMYK : JCS_EXT_RGBA;
	h->d.dct_method = JDCT_ISLOW;
	vs_jw_scale(h, 1, w, ht, imcu_w, imcu_h);
	return 0;
}

// vs_jw_decode decodes rows y0..y1-1 of columns x0..x1-1 (widened by libjpeg to whole iMCUs: *ox and
// *ow say what was decoded) into dst, 4 bytes a pixel and stride bytes a row, after vs_jw_header.
// It returns 0, or -1 with h->msg; after it h->eof says whether libjpeg met the end of the data early.
static int vs_jw_decode(vs_jw *h, unsigned char *dst, int stride, int x0, int x1, int y0, int y1, int *ox, int *ow) {
	if (setjmp(h->jb)) {
		vs_jl.abort_(&h->d);
		return -1;
	}
	vs_jl.start(&h->d);
	if (h->d.output_components != 4) {
		strcpy(h->msg, "libjpeg gave other than 4 components a pixel");
		vs_jl.abort_(&h->d);
		return -1;
	}
	JDIMENSION xoff = x0, cw = x1 - x0;
	if (x0 > 0 || (JDIMENSION)x1 < h->d.output_width) vs_jl.crop(&h->d, &xoff, &cw);
	*ox = xoff;
	*ow = cw;
	if ((JDIMENSION)(*ox + *ow) < (JDIMENSION)x1 || *ox > x0 || 4 * (long)cw > stride) { // never write past a row
		strcpy(h->msg, "libjpeg cropped outside the requested columns");
		vs_jl.abort_(&h->d);
		return -1;
	}
	if (y0 > 0 && vs_jl.skip(&h->d, y0) != (JDIMENSION)y0) {
		strcpy(h->msg, "libjpeg skipped fewer rows than asked");
		vs_jl.abort_(&h->d);
		return -1;
	}
	while (h->d.output_scanline < (JDIMENSION)y1) {
		JSAMPROW row = dst + (size_t)(h->d.output_scanline - y0) * stride;
		if (vs_jl.read(&h->d, &row, 1) != 1) {
			strcpy(h->msg, "libjpeg returned no row");
			vs_jl.abort_(&h->d);
			return -1;
		}
	}
	if (h->d.output_scanline == h->d.output_height) vs_jl.finish(&h->d); // reads on to the end, as a full decode does
	else vs_jl.abort_(&h->d);
	return 0;
}
#else
typedef struct { char msg[1]; int eof; } vs_jw;
static const char *vs_jw_open(const char *name) { return "built without libjpeg's header (install libjpeg62-turbo-dev)"; }
static vs_jw *vs_jw_new(void) { return NULL; }
static void vs_jw_free(vs_jw *h) {}
static void vs_jw_reset(vs_jw *h) {}
static int vs_jw_header(vs_jw *h, const unsigned char *data, unsigned long n, int *w, int *ht, int *cmyk, int *imcu_w, int *imcu_h) { return -1; }
static void vs_jw_scale(vs_jw *h, int denom, int *w, int *ht, int *imcu_w, int *imcu_h) {}
static int vs_jw_decode(vs_jw *h, unsigned char *dst, int stride, int x0, int x1, int y0, int y1, int *ox, int *ow) { return -1; }
#endif
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"unsafe"
)

// windowed is whether libjpeg's windowed decoding is available, or why not.
var windowed = sync.OnceValue(func() error {
	if _, err := turbo(); err != nil { // exact decoding at all needs libjpeg-turbo
		return err
	}
	cname := C.CString("libjpeg.so.62")
	defer C.free(unsafe.Pointer(cname))
	if msg := C.vs_jw_open(cname); msg != nil {
		return fmt.Errorf("libjpeg.so.62: %s", C.GoString(msg))
	}
	return nil
})

// decompressors recycles libjpeg decompressors.
var decompressors = newDecompressors()

func newDecompressors() *cPool[*C.vs_jw] {
	return newCPool(func() (*C.vs_jw, error) {
		h := C.vs_jw_new()
		if h == nil {
			return nil, errors.New("jpeg: libjpeg could not create a decompressor")
		}
		return h, nil
	}, func(h *C.vs_jw) { C.vs_jw_free(h) })
}

// jpegWindow decodes the part of a JPEG that window (given the decoded size) asks for, as PIL's
// Image.open(f) (after draft(), if o asks for it) then convert("RGB") decodes it: the returned
// image's Rect lies in the full image's coordinates and covers the window. size is the decoded
// image's size. ok is false, with nothing done, where windowed decoding is unavailable or the
// data would not show whether the file is whole (it does not end with the EOI marker: a full
// decode decides).
func jpegWindow(data []byte, o DecodeOptions, buf []byte, window func(w, h int) (image.Rectangle, error)) (img *image.RGBA, size image.Point, ok bool, err error) {
	if windowed() != nil || len(data) < 4 || data[len(data)-2] != 0xff || data[len(data)-1] != 0xd9 {
		return nil, image.Point{}, false, nil
	}
	h, err := decompressors.get()
	if err != nil {
		return nil, image.Point{}, true, err
	}
	defer func() {
		C.vs_jw_reset(h) // a header read without a decode (the image is smaller than the crop, say) leaves it mid-way
		decompressors.put(h)
	}()
	var w, ht, cmyk, imcuW, imcuH C.int
	if C.vs_jw_header(h, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &w, &ht, &cmyk, &imcuW, &imcuH) != 0 {
		return nil, image.Point{}, true, turboError("jpeg", C.GoString(&h.msg[0]))
	}
	if a := o.draftScale(int(w), int(ht)); a > 1 {
		C.vs_jw_scale(h, C.int(a), &w, &ht, &imcuW, &imcuH)
	}
	if w == 0 && ht == 0 {
		return nil, image.Point{}, true, errors.New("jpeg: truncated file: data ends before the image header")
	}
	size = image.Pt(int(w), int(ht))
	if err := checkSize("jpeg", size.X, size.Y); err != nil {
		return nil, size, true, err
	}
	win, err := window(size.X, size.Y)
	if err != nil {
		return nil, size, true, err
	}
	// One iMCU more on each side: libjpeg upsamples the edges of a cropped row as image edges, so
	// the pixels next to them need not be the full image's.
	win.Min.X = max(0, win.Min.X-int(imcuW))
	win.Max.X = min(size.X, win.Max.X+int(imcuW))
	win = win.Intersect(image.Rect(0, 0, size.X, size.Y))
	if win.Empty() {
		return nil, size, true, errors.New("jpeg: empty decode window")
	}
	// libjpeg widens the columns to whole iMCUs: room for one more on each side.
	stride := 4 * min(size.X, win.Dx()+2*int(imcuW))
	pix := grow(buf, stride*win.Dy())
	var ox, ow C.int
	if C.vs_jw_decode(h, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(stride), C.int(win.Min.X), C.int(win.Max.X), C.int(win.Min.Y), C.int(win.Max.Y), &ox, &ow) != 0 {
		return nil, size, true, turboError("jpeg", C.GoString(&h.msg[0]))
	}
	if h.eof != 0 { // PIL refuses a truncated file
		return nil, size, true, turboError("jpeg", "Premature end of JPEG file")
	}
	img = &image.RGBA{Pix: pix, Stride: stride, Rect: image.Rect(int(ox), win.Min.Y, int(ox+ow), win.Max.Y)}
	if cmyk != 0 {
		for y := 0; y < win.Dy(); y++ {
			invertedCMYKToRGB(pix[y*stride : y*stride+4*int(ow)])
		}
	}
	return img, size, true, nil
}
