package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/stages/load"
)

// sampleJPEGs lists the 500 imagenet-sample JPEGs, sorted.
func sampleJPEGs(b *testing.B) []string {
	files, err := filepath.Glob(filepath.Join(testenv.SharedData(b, "imagenet-sample"), "*.JPEG"))
	if err != nil || len(files) == 0 {
		b.Fatalf("imagenet-sample: %v", err)
	}
	sort.Strings(files)
	return files
}

// BenchmarkDecodeResizeCrop times the load stage's per-image work on one core (load.PreprocessFile):
// read the file, decode (libjpeg-turbo, or Go's decoder under -tags nolibjpeg), resize the shorter side to
// 256 with PIL's antialiased bilinear, centre-crop 224 and convert to float32 [3,224,224], buffers reused.
func BenchmarkDecodeResizeCrop(b *testing.B) { benchPreprocess(b, load.DecodeOptions{}) }

// BenchmarkDecodeResizeCropDraft is BenchmarkDecodeResizeCrop with `decode: draft` (DCT-domain reduction).
func BenchmarkDecodeResizeCropDraft(b *testing.B) {
	benchPreprocess(b, load.DecodeOptions{DraftSide: 256})
}

func benchPreprocess(b *testing.B, decode load.DecodeOptions) {
	files := sampleJPEGs(b)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // one core, the garbage collector included
	g := load.Geometry{Resize: 256, Height: 224, Width: 224}
	out := make([]float32, 3*g.Height*g.Width)
	b.ResetTimer()
	cpu0 := cpuSeconds(b)
	for range b.N {
		for _, f := range files {
			if err := decode.PreprocessFile(out, f, g); err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu := cpuSeconds(b) - cpu0
	b.ReportMetric(float64(len(files)*b.N)/b.Elapsed().Seconds(), "img/s")
	b.ReportMetric(float64(len(files)*b.N)/cpu, "img/cpu-s")
	b.ReportMetric(0, "ns/op")
	b.Logf("decoder: %s", load.Decoder())
}

// BenchmarkPILDecodeResizeCrop times the same work in PIL 9.4 (Debian's /usr/bin/python3, one process):
// Image.open, convert("RGB"), resize(BILINEAR) to 256, crop 224, tobytes (bench/pil_preprocess.py).
func BenchmarkPILDecodeResizeCrop(b *testing.B) { benchPIL(b, false) }

// BenchmarkPILDecodeResizeCropDraft is BenchmarkPILDecodeResizeCrop after Image.draft("RGB", (256, 256)).
func BenchmarkPILDecodeResizeCropDraft(b *testing.B) { benchPIL(b, true) }

func benchPIL(b *testing.B, draft bool) {
	files := sampleJPEGs(b)
	if err := exec.Command("/usr/bin/python3", "-c", "import PIL").Run(); err != nil {
		b.Skipf("PIL reference needs /usr/bin/python3 with python3-pil: %v", err)
	}
	d := "0"
	if draft {
		d = "1"
	}
	b.ResetTimer()
	out, err := exec.Command("/usr/bin/python3", append([]string{"pil_preprocess.py", strconv.Itoa(b.N), d}, files...)...).Output()
	if err != nil {
		b.Fatalf("pil_preprocess.py: %v", err)
	}
	b.StopTimer()
	// The script times its own rounds, so Python's start-up and the page-cache warm-up are not counted.
	var wall, cpu float64 // seconds per image, summed over rounds
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var w, c float64
		if _, err := fmt.Sscanf(sc.Text(), "pil %g %g", &w, &c); err != nil {
			b.Fatalf("pil_preprocess.py line %q: %v", sc.Text(), err)
		}
		wall, cpu, n = wall+1/w, cpu+1/c, n+1
	}
	if n != b.N {
		b.Fatalf("pil_preprocess.py printed %d rounds, want %d", n, b.N)
	}
	b.ReportMetric(float64(n)/wall, "img/s")
	b.ReportMetric(float64(n)/cpu, "img/cpu-s")
	b.ReportMetric(0, "ns/op")
}

// cpuSeconds is the CPU time (user + system) this process has used: on a shared machine, images per CPU
// second compare two programs more fairly than wall time.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
