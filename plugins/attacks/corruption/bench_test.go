package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkCorrupt times one 224×224 image per corruption and severity on one goroutine (Corrupt
// is single-threaded; the plugin runs one image per CPU), reporting the thread's CPU time per image
// (cpu-ms/op) beside wall time, which a shared machine inflates:
//
//	go test -run '^$' -bench Corrupt -benchtime 20x ./plugins/attacks/corruption/
func BenchmarkCorrupt(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, 3*224*224)
	for i := range src { // a smooth random image with texture, so no branch is degenerate
		src[i] = float32(0.5+0.3*float64(i%224)/224) + float32(r.Float64()*0.2-0.1)
	}
	dst := make([]float32, len(src))
	dir := frostDir(b)
	for _, c := range corruptions {
		for sev := 1; sev <= 5; sev++ {
			b.Run(fmt.Sprintf("%s/%d", c.name, sev), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				start, ok := threadCPU()
				n := 0
				for ; b.Loop(); n++ {
					if err := Corrupt(dst, src, 224, 224, c.name, sev, uint64(n), "bench", dir); err != nil {
						b.Fatal(err)
					}
				}
				if end, ok2 := threadCPU(); ok && ok2 && n > 0 {
					b.ReportMetric(float64(end-start)/float64(n)/1e6, "cpu-ms/op")
				}
			})
		}
	}
}
