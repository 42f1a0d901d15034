package load

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// pilPython is Debian's Python, which has python3-pil (the first python3 on PATH may not).
const pilPython = "/usr/bin/python3"

// pilRef is the reference pipeline's reading of one file (testdata/pil_reference.py).
type pilRef struct {
	size               image.Point // decoded size
	decodeSHA, cropSHA string      // sha256 of the decoded RGB bytes and of the crop's
	crop               []byte      // the crop, packed RGB rows
}

// needPIL skips the test unless Debian's Python with Pillow is installed.
func needPIL(t testing.TB) {
	t.Helper()
	if out, err := exec.Command(pilPython, "-c", "import PIL; print(PIL.__version__)").CombinedOutput(); err != nil {
		t.Skipf("the PIL reference needs %s with python3-pil (apt-get install python3-pil): %v: %s", pilPython, err, out)
	}
}

// pilRefs caches pilReference by its arguments: several tests compare with the same PIL run.
var pilRefs = struct {
	sync.Mutex
	m map[string][]pilRef
}{m: map[string][]pilRef{}}

// pilReference runs the reference pipeline (PIL decode, optional draft, torchvision Resize + CenterCrop)
// over files at geometry g (square crop), once per process.
func pilReference(t testing.TB, files []string, g Geometry, draft bool) []pilRef {
	t.Helper()
	needPIL(t)
	key := fmt.Sprint(files, g, draft)
	pilRefs.Lock()
	defer pilRefs.Unlock()
	if refs, ok := pilRefs.m[key]; ok {
		return refs
	}
	refs := runPILReference(t, files, g, draft)
	pilRefs.m[key] = refs
	return refs
}

func runPILReference(t testing.TB, files []string, g Geometry, draft bool) []pilRef {
	t.Helper()
	crops := filepath.Join(t.TempDir(), "crops.raw")
	d := "0"
	if draft {
		d = "1"
	}
	args := append([]string{"testdata/pil_reference.py", strconv.Itoa(g.Resize), strconv.Itoa(g.Height), d, crops}, files...)
	cmd := exec.Command(pilPython, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pil_reference.py: %v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(crops)
	if err != nil {
		t.Fatal(err)
	}
	n := 3 * g.Height * g.Width
	var refs []pilRef
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r pilRef
		if _, err := fmt.Sscan(sc.Text(), &r.size.X, &r.size.Y, &r.decodeSHA, &r.cropSHA); err != nil {
			t.Fatalf("pil_reference.py line %q: %v", sc.Text(), err)
		}
		i := len(refs)
		r.crop = raw[i*n : (i+1)*n]
		refs = append(refs, r)
	}
	if len(refs) != len(files) || len(raw) != n*len(files) {
		t.Fatalf("pil_reference.py: %d lines and %d crop bytes for %d files", len(refs), len(raw), len(files))
	}
	return refs
}

// sampleFiles lists the JPEGs of the shared imagenet-sample, sorted.
func sampleFiles(t testing.TB) []string {
	t.Helper()
	dir := needShared(t, "imagenet-sample")
	files, err := filepath.Glob(filepath.Join(dir, "*.JPEG"))
	if err != nil || len(files) != 500 {
		t.Fatalf("imagenet-sample: %d JPEGs (%v), want 500", len(files), err)
	}
	sort.Strings(files)
	return files
}

// goCrop decodes and preprocesses path as the load stage does, returning the decoded image's hash and the crop.
func goCrop(t testing.TB, path string, g Geometry, o DecodeOptions) (image.Point, string, []byte) {
	t.Helper()
	img, err := o.Decode(path)
	if err != nil {
		t.Fatal(err)
	}
	rgb := make([]byte, 0, 3*len(img.Pix)/4)
	for i := 0; i < len(img.Pix); i += 4 {
		rgb = append(rgb, img.Pix[i:i+3]...)
	}
	sum := sha256.Sum256(rgb)
	crop, err := resizeCropImage(img, g)
	if err != nil {
		t.Fatal(err)
	}
	return img.Rect.Size(), hex.EncodeToString(sum[:]), crop
}

// goResult is the load stage's reading of one file.
type goResult struct {
	size, full image.Point // decoded size, and without draft
	decodeSHA  string
	crop       []byte
}

// samples caches sampleComparison by draft mode.
var samples = struct {
	sync.Mutex
	m map[bool][]goResult
}{m: map[bool][]goResult{}}

// sampleComparison returns the imagenet-sample files at resize 256, crop 224, with PIL's reading of
// each and the load stage's (with draft or not), computed once per process.
func sampleComparison(t testing.TB, draft bool) (files []string, g Geometry, refs []pilRef, ours []goResult) {
	t.Helper()
	files = sampleFiles(t)
	g = Geometry{Resize: 256, Height: 224, Width: 224}
	refs = pilReference(t, files, g, draft)
	samples.Lock()
	defer samples.Unlock()
	if ours, ok := samples.m[draft]; ok {
		return files, g, refs, ours
	}
	o := DecodeOptions{}
	if draft {
		o.DraftSide = g.Resize
	}
	for _, f := range files {
		var r goResult
		r.size, r.decodeSHA, r.crop = goCrop(t, f, g, o)
		r.full = r.size
		if draft {
			r.full, _, _ = goCrop(t, f, g, DecodeOptions{})
		}
		ours = append(ours, r)
	}
	samples.m[draft] = ours
	return files, g, refs, ours
}

// TestImageNetSampleMatchesPIL decodes, resizes and crops all 500 imagenet-sample JPEGs (9 of them
// greyscale) and compares every byte with PIL's, decoded in full and with draft. Through libjpeg-turbo
// nothing may differ; the Go fallback's counts are logged.
func TestImageNetSampleMatchesPIL(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 1,000 images with Go and PIL (-short)")
	}
	for _, draft := range []bool{false, true} {
		t.Run(fmt.Sprintf("draft=%v", draft), func(t *testing.T) {
			if draft && !exactJPEG() {
				t.Skipf("draft decoding needs libjpeg-turbo; this process decodes with %s", Decoder())
			}
			files, _, refs, ours := sampleComparison(t, draft)
			decodeOff, cropOff, reduced := 0, 0, 0
			for i, r := range ours {
				if r.size != refs[i].size {
					t.Fatalf("%s: decoded %v, PIL %v", filepath.Base(files[i]), r.size, refs[i].size)
				}
				if r.full != r.size {
					reduced++
				}
				if r.decodeSHA != refs[i].decodeSHA {
					decodeOff++
				}
				if !bytes.Equal(r.crop, refs[i].crop) {
					cropOff++
				}
			}
			t.Logf("decoder %s, draft %v (%d images reduced): %d of %d decoded images and %d crops differ from PIL's",
				Decoder(), draft, reduced, decodeOff, len(files), cropOff)
			if exactJPEG() && (decodeOff != 0 || cropOff != 0) {
				t.Errorf("libjpeg-turbo path: %d decoded images and %d crops differ from PIL's, want 0", decodeOff, cropOff)
			}
			if draft && reduced == 0 {
				t.Errorf("draft reduced no image: the comparison does not exercise the scaled decode")
			}
		})
	}
}

// wnidLabels maps imagenet-sample files (<wnid>_<name>.JPEG) to their imagenet1k class index.
func wnidLabels(t testing.TB, files []string) []int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedData, "imagenet1k_wnids.txt"))
	if err != nil {
		t.Skipf("imagenet1k_wnids.txt absent: %v", err)
	}
	index := map[string]int{}
	for i, w := range strings.Fields(string(data)) {
		index[w] = i
	}
	labels := make([]int, len(files))
	for i, f := range files {
		wnid, _, _ := strings.Cut(filepath.Base(f), "_")
		l, ok := index[wnid]
		if !ok {
			t.Fatalf("%s: wnid %q not in imagenet1k", f, wnid)
		}
		labels[i] = l
	}
	return labels
}
