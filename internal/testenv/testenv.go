// Package testenv locates what tests need: the repository root, the shared real data, the
// ONNX Runtime library, and plugin binaries built from this source tree.
package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Root is the repository root (the folder holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// SharedData returns ../shared/data/<rel> beside the repository, skipping the test when absent.
func SharedData(t testing.TB, rel ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Root(t), "..", "shared", "data"}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("real data %s is absent (../shared/data is not on this machine): %v", p, err)
	}
	return p
}

// ORTLibrary returns the ONNX Runtime library ($ONNXRUNTIME_LIB, else .deps/onnxruntime), skipping when absent.
func ORTLibrary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("ONNXRUNTIME_LIB")
	if p == "" {
		p = filepath.Join(Root(t), ".deps", "onnxruntime", "libonnxruntime.so.1")
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("ONNX Runtime library %s is absent: run `make deps` or set ONNXRUNTIME_LIB", p)
	}
	return p
}

// binaryName maps a plugin package path to its binary name: vistudy-<kind>-<name>.
func binaryName(pkg string) string {
	base := filepath.Base(pkg)
	switch {
	case pkg == "cmd/vistudy":
		return "vistudy"
	case strings.HasPrefix(pkg, "runtimes/"):
		return "vistudy-runtime-" + base
	case strings.Contains(pkg, "/metrics/"):
		return "vistudy-metric-" + base
	case strings.Contains(pkg, "/attacks/"):
		return "vistudy-perturbation-" + base
	}
	return "vistudy-" + base
}

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]bool{}
)

// Plugins builds the plugin packages (paths relative to the repository root, e.g.
// "plugins/metrics/accuracy", or "cmd/vistudy" for the CLI beside them) once per test process and
// returns the folder holding them. It also points ONNXRUNTIME_LIB at the library when the runtime
// plugin is among them.
func Plugins(t testing.TB, pkgs ...string) string {
	t.Helper()
	root := Root(t)
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "vistudy-plugins-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = dir
	}
	for _, pkg := range pkgs {
		if strings.HasPrefix(pkg, "runtimes/") && os.Getenv("ONNXRUNTIME_LIB") == "" {
			os.Setenv("ONNXRUNTIME_LIB", ORTLibrary(t))
		}
		if built[pkg] {
			continue
		}
		out := filepath.Join(buildDir, binaryName(pkg))
		cmd := exec.Command("go", "build", "-o", out, "./"+pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("testenv: build %s: %v\n%s", pkg, err, b)
		}
		built[pkg] = true
	}
	return buildDir
}

// Cleanup removes the binaries Plugins built; call it from TestMain after m.Run.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
		buildDir, built = "", map[string]bool{}
	}
}

// Catalog builds the plugin packages and returns a catalog of them.
func Catalog(t testing.TB, pkgs ...string) *host.Catalog {
	t.Helper()
	dir := Plugins(t, pkgs...)
	cat := host.NewCatalog()
	if err := cat.Discover(context.Background(), []string{dir}); err != nil {
		t.Fatal(err)
	}
	return cat
}

// StartMetric builds the metric plugin package pkg and starts the plugin called name; the
// process is stopped when the test ends.
func StartMetric(t testing.TB, pkg, name string, mem memory.Allocator) *host.MetricProcess {
	t.Helper()
	e, ok := Catalog(t, pkg).Lookup(sdk.KindMetric, name)
	if !ok {
		t.Fatalf("testenv: %s does not serve a metric plugin %q", pkg, name)
	}
	mp, err := host.StartMetric(e, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mp.Close)
	return mp
}
