//go:build cgo && !nolibjpeg

package load

// JPEG decoding through libjpeg-turbo's TurboJPEG API, the library under PIL, torchvision.io and OpenCV,
// so that decoded pixels equal PIL's bit for bit (same ISLOW IDCT, same fancy upsampling, same colour
// conversion). The library is opened at run time (dlopen of Debian's libturbojpeg.so.0, package
// libturbojpeg0): a binary built here still runs, on the pure-Go decoder, where it is missing.

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE // dladdr
#include <dlfcn.h>
#include <stdlib.h>

// The five TurboJPEG 2.x entry points used here, as turbojpeg.h declares them.
typedef void *vs_tjhandle;
typedef vs_tjhandle (*vs_init_fn)(void);
typedef int (*vs_header_fn)(vs_tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
typedef int (*vs_decompress_fn)(vs_tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
typedef char *(*vs_errstr_fn)(vs_tjhandle);
typedef int (*vs_errcode_fn)(vs_tjhandle);
typedef int (*vs_destroy_fn)(vs_tjhandle);

static struct {
	vs_init_fn init;
	vs_header_fn header;
	vs_decompress_fn decompress;
	vs_errstr_fn errstr;
	vs_errcode_fn errcode;
	vs_destroy_fn destroy;
	char path[4096];
} vs_tj;

// vs_tj_open loads the library and its symbols; it returns NULL or what went wrong.
static const char *vs_tj_open(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) return dlerror();
	vs_tj.init = (vs_init_fn)dlsym(lib, "tjInitDecompress");
	vs_tj.header = (vs_header_fn)dlsym(lib, "tjDecompressHeader3");
	vs_tj.decompress = (vs_decompress_fn)dlsym(lib, "tjDecompress2");
	vs_tj.errstr = (vs_errstr_fn)dlsym(lib, "tjGetErrorStr2");
	vs_tj.errcode = (vs_errcode_fn)dlsym(lib, "tjGetErrorCode");
	vs_tj.destroy = (vs_destroy_fn)dlsym(lib, "tjDestroy");
	if (!vs_tj.init || !vs_tj.header || !vs_tj.decompress || !vs_tj.errstr || !vs_tj.errcode || !vs_tj.destroy)
		return "a TurboJPEG 2.0+ symbol is missing";
	Dl_info info;
	if (dladdr((void *)vs_tj.init, &info) && info.dli_fname) {
		size_t i = 0;
		for (; info.dli_fname[i] && i < sizeof vs_tj.path - 1; i++) vs_tj.path[i] = info.dli_fname[i];
		vs_tj.path[i] = 0;
	}
	return NULL;
}

static vs_tjhandle vs_tj_init(void) { return vs_tj.init(); }
static int vs_tj_destroy(vs_tjhandle h) { return vs_tj.destroy(h); }
static const char *vs_tj_errstr(vs_tjhandle h) { return vs_tj.errstr(h); }
static int vs_tj_errcode(vs_tjhandle h) { return vs_tj.errcode(h); }
static const char *vs_tj_path(void) { return vs_tj.path; }

static int vs_tj_header(vs_tjhandle h, const unsigned char *buf, unsigned long n, int *w, int *ht, int *subsamp, int *cs) {
	return vs_tj.header(h, buf, n, w, ht, subsamp, cs);
}

static int vs_tj_decompress(vs_tjhandle h, const unsigned char *buf, unsigned long n, unsigned char *dst,
                            int w, int pitch, int ht, int pf, int flags) {
	return vs_tj.decompress(h, buf, n, dst, w, pitch, ht, pf, flags);
}
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"os"
	"strings"
	"sync"
	"unsafe"
)

// TurboJPEG constants (turbojpeg.h, stable since 1.2).
const (
	tjpfRGBA          = 7
	tjpfCMYK          = 11
	tjcsCMYK          = 3
	tjcsYCCK          = 4
	tjerrWarning      = 0
	tjflagAccurateDCT = 4096 // ISLOW, libjpeg's and PIL's default; explicit so no build default can change it
)

// turbo is the opened library, or why it could not be opened.
var turbo = sync.OnceValues(func() (string, error) {
	for _, name := range []string{"libturbojpeg.so.0", "libturbojpeg.so"} {
		cname := C.CString(name)
		msg := C.vs_tj_open(cname)
		C.free(unsafe.Pointer(cname))
		if msg == nil {
			path := C.GoString(C.vs_tj_path())
			return "libjpeg-turbo " + libraryVersion(path), nil
		}
		if name == "libturbojpeg.so" {
			return "", fmt.Errorf("open libturbojpeg.so.0: %s (install Debian's libturbojpeg0-dev)", C.GoString(msg))
		}
	}
	panic("unreachable")
})

// libraryVersion reads the release ("2.1.5") from the version banner compiled into the library file.
func libraryVersion(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(version unknown)"
	}
	const banner = "libjpeg-turbo version "
	i := bytes.Index(data, []byte(banner))
	if i < 0 {
		return "(version unknown)"
	}
	v := data[i+len(banner):]
	if j := bytes.IndexAny(v, " \x00"); j >= 0 {
		v = v[:j]
	}
	return string(v)
}

// cPool recycles C decoder handles, one per concurrent decode (up to 64 kept): unlike pool, it may
// fail to make one, and it destroys a handle it cannot keep.
type cPool[T any] struct {
	free    chan T
	create  func() (T, error)
	destroy func(T)
}

func newCPool[T any](create func() (T, error), destroy func(T)) *cPool[T] {
	return &cPool[T]{free: make(chan T, 64), create: create, destroy: destroy}
}

// get returns a kept handle or a new one.
func (p *cPool[T]) get() (T, error) {
	select {
	case h := <-p.free:
		return h, nil
	default:
		return p.create()
	}
}

// put keeps h for the next decode, or destroys it when the pool is full.
func (p *cPool[T]) put(h T) {
	select {
	case p.free <- h:
	default:
		p.destroy(h)
	}
}

// handles recycles TurboJPEG decompressors.
var handles = newCPool(func() (C.vs_tjhandle, error) {
	h := C.vs_tj_init()
	if h == nil {
		return nil, errors.New("jpeg: libjpeg-turbo could not create a decompressor")
	}
	return h, nil
}, func(h C.vs_tjhandle) { C.vs_tj_destroy(h) })

// turboDecode decodes a JPEG with libjpeg-turbo as PIL's Image.open(f) (after draft(), if o asks for it)
// followed by convert("RGB") does, into buf when it is large enough; ok is false when the library is
// unavailable.
func turboDecode(data []byte, o DecodeOptions, buf []byte) (img *image.RGBA, ok bool, err error) {
	if _, err := turbo(); err != nil {
		return nil, false, nil
	}
	h, err := handles.get()
	if err != nil {
		return nil, true, err
	}
	defer func() {
		if err != nil { // libjpeg may leave a failed decompressor mid-way: never reuse one
			C.vs_tj_destroy(h)
			return
		}
		handles.put(h)
	}()
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	n := C.ulong(len(data))
	var w, ht, subsamp, cs C.int
	if C.vs_tj_header(h, src, n, &w, &ht, &subsamp, &cs) != 0 {
		return nil, true, turboError("jpeg", C.GoString(C.vs_tj_errstr(h)))
	}
	if w == 0 && ht == 0 { // libjpeg met the end of the data (its fake EOI) before a frame header
		return nil, true, errors.New("jpeg: truncated file: data ends before the image header")
	}
	if err := checkSize("jpeg", int(w), int(ht)); err != nil {
		return nil, true, err
	}
	dw, dh := o.draftSize(int(w), int(ht))
	cmyk := cs == tjcsCMYK || cs == tjcsYCCK
	pf, bpp := C.int(tjpfRGBA), 4 // libjpeg converts YCbCr, RGB and greyscale (replicated) to RGB
	if cmyk {
		pf = tjpfCMYK // libjpeg converts YCCK to CMYK; CMYK → RGB is PIL's, below
	}
	img = &image.RGBA{Pix: grow(buf, 4*dw*dh), Stride: 4 * dw, Rect: image.Rect(0, 0, dw, dh)} // every byte is written
	dst := (*C.uchar)(unsafe.Pointer(&img.Pix[0]))
	if C.vs_tj_decompress(h, src, n, dst, C.int(dw), C.int(bpp*dw), C.int(dh), pf, tjflagAccurateDCT) != 0 {
		msg := C.GoString(C.vs_tj_errstr(h))
		// PIL decodes through libjpeg's warnings (extraneous bytes, ...) but refuses a truncated file.
		if C.vs_tj_errcode(h) != tjerrWarning || strings.Contains(msg, "Premature end") {
			return nil, true, turboError("jpeg", msg)
		}
	}
	if cmyk {
		invertedCMYKToRGB(img.Pix)
	} else {
		for i := 3; i < len(img.Pix); i += 4 { // TurboJPEG sets alpha to 255 already; make it a contract
			img.Pix[i] = 255
		}
	}
	return img, true, nil
}

// invertedCMYKToRGB converts CMYK pixels in place as PIL does for a JPEG: its "CMYK;I" raw mode inverts
// the stored values (Adobe's convention, which PIL assumes for every CMYK JPEG), then cmyk2rgb.
func invertedCMYKToRGB(pix []uint8) {
	for i := 0; i+3 < len(pix); i += 4 {
		r, g, b := cmykToRGB(255-pix[i], 255-pix[i+1], 255-pix[i+2], 255-pix[i+3])
		pix[i], pix[i+1], pix[i+2], pix[i+3] = r, g, b, 255
	}
}

// turboError turns a libjpeg message into an error that says what is wrong with the file.
func turboError(format, msg string) error {
	switch {
	case strings.Contains(msg, "Premature end"), strings.Contains(msg, "no image"):
		return fmt.Errorf("%s: truncated file: data ends before the image is complete (libjpeg-turbo: %s)", format, msg)
	}
	return fmt.Errorf("%s: corrupt or unsupported data (libjpeg-turbo: %s)", format, msg)
}
