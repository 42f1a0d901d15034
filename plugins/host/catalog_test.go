package host_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// spy writes an executable script at dir/name that creates the file marker when it runs.
func spy(t *testing.T, dir, name, marker string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\ntouch '"+marker+"'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func ran(marker string) bool {
	_, err := os.Stat(marker)
	return err == nil
}

// TestDiscoverRunsNothing: discovery lists exact names of executable regular files and runs
// none of them; a plugin binary runs when the study opens it, and only that one.
func TestDiscoverRunsNothing(t *testing.T) {
	built := testenv.Plugins(t, "plugins/metrics/accuracy")
	dir, marks := t.TempDir(), t.TempDir()
	copyFile(t, filepath.Join(built, "vistudy-metric-accuracy"), filepath.Join(dir, "vistudy-metric-accuracy"), 0o755)
	copyFile(t, filepath.Join(built, "vistudy-metric-accuracy"), filepath.Join(dir, "vistudy-metric-accuracy.real"), 0o755)
	unused := filepath.Join(marks, "unused")
	spy(t, dir, "vistudy-metric-unused", unused)
	spy(t, dir, "vistudy-metric-old~", filepath.Join(marks, "tilde"))
	if err := os.WriteFile(filepath.Join(dir, "vistudy-metric-noexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "vistudy-metric-folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	cat := host.NewCatalog()
	if err := cat.Discover(context.Background(), []string{dir, filepath.Join(dir, "missing")}); err != nil {
		t.Fatal(err)
	}
	if got, want := cat.Names(sdk.KindMetric), []string{"accuracy", "unused"}; !slices.Equal(got, want) {
		t.Fatalf("discovered metrics %v, want %v (no suffixes, no folders, no files without an exec bit)", got, want)
	}
	for _, e := range cat.Entries() {
		if len(e.SHA256) != 64 {
			t.Errorf("%s: entry without a digest: %+v", e.Info.Name, e)
		}
	}
	if ran(unused) {
		t.Fatal("discovery or listing ran a plugin binary")
	}
	e, err := cat.Open(context.Background(), sdk.KindMetric, "accuracy")
	if err != nil {
		t.Fatal(err)
	}
	if e.Info.Version == "" || len(e.Info.Params) == 0 {
		t.Errorf("opened accuracy has no info: %+v", e.Info)
	}
	if ran(unused) {
		t.Fatal("opening accuracy ran another plugin")
	}
	if _, err := cat.Open(context.Background(), sdk.KindMetric, "nope"); !errors.Is(err, host.ErrNotInstalled) {
		t.Errorf("open of an absent plugin: %v, want ErrNotInstalled", err)
	}
	// Opening the spy runs it (it is a binary of that name) and fails: it serves no plugin.
	if _, err := cat.Open(context.Background(), sdk.KindMetric, "unused"); err == nil || !ran(unused) {
		t.Errorf("open of a non-plugin: err %v, ran %v; want an error after running it", err, ran(unused))
	}
}

// TestSwappedPinnedBinaryNeverRuns: a pinned binary replaced after the pin check, and a binary
// replaced after it was opened, are refused before a single instruction of theirs runs.
func TestSwappedPinnedBinaryNeverRuns(t *testing.T) {
	built := testenv.Plugins(t, "plugins/metrics/accuracy")
	src := filepath.Join(built, "vistudy-metric-accuracy")
	sum, err := host.FileSHA256(src)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	t.Run("pin mismatch", func(t *testing.T) {
		dir, marker := t.TempDir(), filepath.Join(t.TempDir(), "ran")
		spy(t, dir, "vistudy-metric-accuracy", marker)
		cat := host.NewCatalog()
		if err := cat.Discover(context.Background(), []string{dir}); err != nil {
			t.Fatal(err)
		}
		if err := cat.Pin("accuracy", sum); err == nil || !strings.Contains(err.Error(), "the study pins "+sum) {
			t.Errorf("pin of another binary: %v", err)
		}
		if _, ok := cat.Lookup(sdk.KindMetric, "accuracy"); ok || ran(marker) {
			t.Errorf("a binary failing its pin was usable (ran: %v)", ran(marker))
		}
	})
	t.Run("swapped after the pin", func(t *testing.T) {
		dir, marker := t.TempDir(), filepath.Join(t.TempDir(), "ran")
		bin := filepath.Join(dir, "vistudy-metric-accuracy")
		copyFile(t, src, bin, 0o755)
		cat := host.NewCatalog()
		if err := cat.Discover(context.Background(), []string{dir}); err != nil {
			t.Fatal(err)
		}
		if err := cat.Pin("accuracy", strings.ToUpper(sum)); err != nil {
			t.Fatal(err)
		}
		spy(t, dir, "vistudy-metric-accuracy", marker)
		_, err := cat.Open(context.Background(), sdk.KindMetric, "accuracy")
		var ce *host.ChangedError
		if !errors.As(err, &ce) || ran(marker) {
			t.Fatalf("open after a swap: %v (ran: %v); want a ChangedError and nothing run", err, ran(marker))
		}
	})
	t.Run("swapped after open", func(t *testing.T) {
		dir, marker := t.TempDir(), filepath.Join(t.TempDir(), "ran")
		bin := filepath.Join(dir, "vistudy-metric-accuracy")
		copyFile(t, src, bin, 0o755)
		cat := host.NewCatalog()
		if err := cat.Discover(context.Background(), []string{dir}); err != nil {
			t.Fatal(err)
		}
		e, err := cat.Open(context.Background(), sdk.KindMetric, "accuracy")
		if err != nil {
			t.Fatal(err)
		}
		// Launches run the copy made when the digest was checked: the file on disk is not read again.
		spy(t, dir, "vistudy-metric-accuracy", marker)
		mp, err := host.StartMetric(e, mem)
		if err != nil {
			t.Fatal(err)
		}
		defer mp.Close()
		if _, err := mp.Bind(`{"topk":[1]}`, sdk.Model{Name: "m"}).Init(context.Background()); err != nil || ran(marker) {
			t.Fatalf("the checked accuracy binary after a swap on disk: %v (the swapped file ran: %v)", err, ran(marker))
		}
	})
}

func TestCheckSHA256(t *testing.T) {
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // SHA-256("abc"), FIPS 180-2
	for _, tc := range []struct {
		name, want string
		changed    bool
		ok         bool
	}{
		{"match", abc, false, true},
		{"upper case", strings.ToUpper(abc), false, true},
		{"other file", strings.Repeat("0", 64), true, false},
		{"short", abc[:10], false, false},
		{"not hex", strings.Repeat("z", 64), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := host.CheckSHA256(p, tc.want)
			var ce *host.ChangedError
			if (err == nil) != tc.ok || errors.As(err, &ce) != tc.changed {
				t.Fatalf("CheckSHA256(%q) = %v", tc.want, err)
			}
			if tc.changed && (ce.Got != abc || !strings.Contains(err.Error(), p)) {
				t.Errorf("error %v does not name the file and its digest", err)
			}
		})
	}
	if err := host.CheckSHA256(filepath.Join(t.TempDir(), "absent"), abc); err == nil {
		t.Error("a missing file passed")
	}
}

// TestPrefetch: Prefetch opens the named plugins (any kind) and no other, keeping each outcome
// for Open: a prefetched plugin opens after its file is gone, a failure is reported by Open.
func TestPrefetch(t *testing.T) {
	built := testenv.Plugins(t, "plugins/metrics/accuracy")
	dir, marks := t.TempDir(), t.TempDir()
	copyFile(t, filepath.Join(built, "vistudy-metric-accuracy"), filepath.Join(dir, "vistudy-metric-accuracy"), 0o755)
	named, unused := filepath.Join(marks, "named"), filepath.Join(marks, "unused")
	spy(t, dir, "vistudy-perturbation-named", named)
	spy(t, dir, "vistudy-metric-unused", unused)
	cat := host.NewCatalog()
	if err := cat.Discover(context.Background(), []string{dir}); err != nil {
		t.Fatal(err)
	}
	cat.Prefetch(context.Background(), []string{"accuracy", "named", "absent", ""})
	if !ran(named) || ran(unused) {
		t.Fatalf("prefetch ran the named spy: %v, the other: %v; want true, false", ran(named), ran(unused))
	}
	if err := os.Remove(filepath.Join(dir, "vistudy-metric-accuracy")); err != nil {
		t.Fatal(err)
	}
	e, err := cat.Open(context.Background(), sdk.KindMetric, "accuracy")
	if err != nil || e.Info.Version == "" {
		t.Fatalf("open after prefetch: %+v, %v", e, err)
	}
	if _, err := cat.Open(context.Background(), sdk.KindPerturbation, "named"); err == nil {
		t.Error("open of the prefetched non-plugin succeeded")
	}
}
