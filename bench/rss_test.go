package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/stages/load"
)

// BenchmarkPeakRSS runs the study of BenchmarkRun on a manifest of the 500 imagenet-sample
// images and on one listing them 10 times (through 10 folders of symbolic links, so that every
// sample id differs), and reports the peak memory of each run and their ratio: the streaming
// executor holds a bounded number of batches, so a dataset 10 times larger should not need more
// memory. peak-MB is the largest sum of resident memory over vistudy and its plugins (sampled);
// maxrss-MB the largest single process (getrusage).
func BenchmarkPeakRSS(b *testing.B) {
	dir := testenv.Plugins(b, "cmd/vistudy", "runtimes/onnxruntime", "plugins/metrics/accuracy")
	data := testenv.SharedData(b, "imagenet-sample")
	ds, err := load.Open(load.Config{Name: "sample", Kind: load.KindImageFolder, Path: data, Labels: "imagenet1k"})
	if err != nil {
		b.Fatal(err)
	}
	tmp := b.TempDir()
	manifest := func(copies int) string {
		var sb strings.Builder
		sb.WriteString("path,label\n")
		for c := range copies {
			d := filepath.Join(tmp, "data", fmt.Sprintf("copy%d", c))
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
			for _, s := range ds.Samples() {
				link := filepath.Join(d, filepath.Base(s.Path))
				if _, err := os.Lstat(link); err != nil {
					if err := os.Symlink(s.Path, link); err != nil {
						b.Fatal(err)
					}
				}
				fmt.Fprintf(&sb, "copy%d/%s,%d\n", c, filepath.Base(s.Path), s.Label)
			}
		}
		path := filepath.Join(tmp, "data", fmt.Sprintf("x%d.csv", copies))
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		return studyYAML(b, fmt.Sprintf("sample: {kind: manifest, path: %s, labels: imagenet1k}", path), 0)
	}
	one, ten := manifest(1), manifest(10)
	var p1, p10, m1, m10 int64
	b.ResetTimer()
	for range b.N {
		r1 := runStudy(b, dir, tmp, one, true)
		r10 := runStudy(b, dir, tmp, ten, true)
		p1, p10 = max(p1, r1.peakTree), max(p10, r10.peakTree)
		m1, m10 = max(m1, r1.maxRSS), max(m10, r10.maxRSS)
	}
	b.StopTimer()
	b.ReportMetric(float64(p1)/(1<<20), "peak-MB-1x")
	b.ReportMetric(float64(p10)/(1<<20), "peak-MB-10x")
	b.ReportMetric(float64(p10)/float64(p1), "peak-10x/1x")
	b.ReportMetric(float64(m1)/(1<<20), "maxrss-MB-1x")
	b.ReportMetric(float64(m10)/(1<<20), "maxrss-MB-10x")
	b.ReportMetric(float64(m10)/float64(m1), "maxrss-10x/1x")
	b.ReportMetric(0, "ns/op")
}
