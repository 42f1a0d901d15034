package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
)

// FuzzParseStudy: the study parser never panics, answers in bounded time, and any error it
// returns for a readable file is a list of problems with positions (plain `go test` runs the
// committed corpus; `make fuzz` explores).
func FuzzParseStudy(f *testing.F) {
	root := testenv.Root(f)
	seeds, _ := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	seeds = append(seeds, filepath.Join(root, "pipeline.yaml"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("stages:\n  - {id: x, load: {dataset: [1, {a: b}]}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		_, err := pipeline.ParseStudy(data, "/fuzz/study.yaml", []pipeline.Override{{Key: "seed", Value: "2", Source: "flag --seed"}})
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("parsing %d bytes took %v", len(data), d)
		}
		if err == nil {
			return
		}
		ps, ok := pipeline.AsProblems(err)
		if !ok {
			t.Fatalf("error is not a list of problems: %v", err)
		}
		for _, p := range ps {
			if !strings.HasPrefix(p.Pos.String(), "/fuzz/study.yaml") && p.Pos.Override == "" {
				t.Fatalf("problem without the file: %v", p)
			}
		}
	})
}
