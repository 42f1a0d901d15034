package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/vistudy/vistudy/plugins/sdk"
)

// BinaryPrefix starts the file name of every plugin binary: vistudy-<kind>-<name>.
const BinaryPrefix = "vistudy-"

// Entry is one discovered plugin binary.
type Entry struct {
	Kind   sdk.Kind
	Info   sdk.Info
	Path   string
	SHA256 string // hex digest of the binary
	Pinned bool   // the study pinned SHA256: the launch verifies it (go-plugin SecureConfig)
}

// Catalog is the set of plugins a study can use, by kind and name.
type Catalog struct {
	mu      sync.Mutex
	entries map[sdk.Kind]map[string]*Entry
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog { return &Catalog{entries: map[sdk.Kind]map[string]*Entry{}} }

// KindOf tells a plugin binary's kind from its file name, or false when it is not one.
func KindOf(path string) (sdk.Kind, bool) {
	base := filepath.Base(path)
	if !strings.HasPrefix(base, BinaryPrefix) {
		return "", false
	}
	rest := strings.TrimPrefix(base, BinaryPrefix)
	for _, k := range []sdk.Kind{sdk.KindRuntime, sdk.KindPerturbation, sdk.KindMetric} {
		if strings.HasPrefix(rest, string(k)+"-") {
			return k, true
		}
	}
	return "", false
}

// Discover adds every plugin binary found in dirs (missing dirs are skipped). Plugins are
// asked for their Info concurrently; a binary that fails to answer is an error naming it.
func (c *Catalog) Discover(ctx context.Context, dirs []string) error {
	var paths []string
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return fmt.Errorf("plugins: scan %s: %w", d, err)
		}
		for _, e := range ents {
			p := filepath.Join(d, e.Name())
			if _, ok := KindOf(p); !ok || e.IsDir() {
				continue
			}
			if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
				paths = append(paths, p)
			}
		}
	}
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Add(ctx, p, "")
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Add launches the plugin at path once to read its Info and adds it. A non-empty sha256
// pins the binary: it must match now and at every launch.
func (c *Catalog) Add(ctx context.Context, path, sha string) error {
	kind, ok := KindOf(path)
	if !ok {
		return fmt.Errorf("plugins: %s: a plugin binary's name must be %s<runtime|perturbation|metric>-<name>", path, BinaryPrefix)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("plugins: %s: %w", path, err)
	}
	sum, err := FileSHA256(abs)
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	if sha != "" && !strings.EqualFold(sha, sum) {
		return fmt.Errorf("plugins: %s has sha256 %s, the study pins %s", path, sum, sha)
	}
	e := &Entry{Kind: kind, Path: abs, SHA256: sum, Pinned: sha != ""}
	p, err := launch(e)
	if err != nil {
		return err
	}
	defer p.kill()
	info, err := p.info(ctx)
	if err != nil {
		return err
	}
	if info.Kind != string(kind) {
		return fmt.Errorf("plugins: %s says it is a %s plugin, its name says %s", path, info.Kind, kind)
	}
	if e.Info, err = sdk.InfoFromProto(info); err != nil {
		return err
	}
	return c.put(e)
}

func (c *Catalog) put(e *Entry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	byName := c.entries[e.Kind]
	if byName == nil {
		byName = map[string]*Entry{}
		c.entries[e.Kind] = byName
	}
	if old, ok := byName[e.Info.Name]; ok && old.Path != e.Path {
		if old.SHA256 == e.SHA256 {
			return nil // the same binary found twice (e.g. bin/ and a plugin path)
		}
		return fmt.Errorf("plugins: two %s plugins are named %q: %s and %s", e.Kind, e.Info.Name, old.Path, e.Path)
	}
	byName[e.Info.Name] = e
	return nil
}

// Lookup returns the plugin of kind and name.
func (c *Catalog) Lookup(kind sdk.Kind, name string) (*Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[kind][name]
	return e, ok
}

// Names lists the plugin names of kind, sorted.
func (c *Catalog) Names(kind sdk.Kind) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n := range c.entries[kind] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Entries lists all plugins sorted by kind and name.
func (c *Catalog) Entries() []*Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Entry
	for _, byName := range c.entries {
		for _, e := range byName {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Info.Name < out[j].Info.Name
	})
	return out
}

// FileSHA256 is the hex SHA-256 of a file's contents.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
