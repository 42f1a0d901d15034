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
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/vistudy/vistudy/plugins/sdk"
)

// BinaryPrefix starts the file name of every plugin binary: vistudy-<kind>-<name>.
const BinaryPrefix = "vistudy-"

// binaryName is a plugin binary's whole file name: no suffix (.real, .bak, .exe) is a plugin.
var binaryName = regexp.MustCompile(`^vistudy-(runtime|perturbation|metric)-([A-Za-z0-9][A-Za-z0-9_-]*)$`)

// ErrNotInstalled is the error of Open for a plugin no discovered or added binary provides.
var ErrNotInstalled = errors.New("not installed")

// Entry is one plugin binary. Discovery fills Kind, Path and Info.Name (from the file name);
// the rest of Info is read when the plugin is first opened (Open, Lookup, Describe).
type Entry struct {
	Kind   sdk.Kind
	Info   sdk.Info
	Path   string
	SHA256 string // hex digest of the binary; every launch runs only bytes with this digest
	Pinned bool   // the study pinned SHA256
}

// slot is the catalog's record of one plugin name: its binaries and whether it was opened.
type slot struct {
	mu     sync.Mutex
	entry  *Entry
	paths  []string // every binary found under this name (the first one is entry.Path)
	pin    string   // digest the study pins, "" when none
	opened bool
	err    error // the outcome of opening, once opened
	logged bool  // Lookup logged err
}

// Catalog is the set of plugins a study can use, by kind and name. Discovery only lists file
// names: a plugin binary runs for the first time when a study opens it, after its digest (and
// pin) was checked.
type Catalog struct {
	mu    sync.Mutex
	slots map[sdk.Kind]map[string]*slot
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog { return &Catalog{slots: map[sdk.Kind]map[string]*slot{}} }

// parseBinary splits a plugin binary's file name into kind and name.
func parseBinary(path string) (sdk.Kind, string, bool) {
	m := binaryName.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return "", "", false
	}
	return sdk.Kind(m[1]), m[2], true
}

// KindOf tells a plugin binary's kind from its file name, or false when it is not one.
func KindOf(path string) (sdk.Kind, bool) {
	k, _, ok := parseBinary(path)
	return k, ok
}

// Discover lists the plugin binaries in dirs (missing dirs are skipped): executable regular
// files named exactly vistudy-<kind>-<name>. Nothing is executed.
func (c *Catalog) Discover(_ context.Context, dirs []string) error {
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return fmt.Errorf("plugins: scan %s: %w", d, err)
		}
		for _, de := range ents {
			kind, name, ok := parseBinary(de.Name())
			if !ok {
				continue
			}
			p, err := filepath.Abs(filepath.Join(d, de.Name()))
			if err != nil {
				return fmt.Errorf("plugins: %s: %w", de.Name(), err)
			}
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
				continue
			}
			c.slotFor(kind, name, p)
		}
	}
	return nil
}

// slotFor returns the slot of kind and name, recording path as one of its binaries.
func (c *Catalog) slotFor(kind sdk.Kind, name, path string) *slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	byName := c.slots[kind]
	if byName == nil {
		byName = map[string]*slot{}
		c.slots[kind] = byName
	}
	s := byName[name]
	if s == nil {
		s = &slot{entry: &Entry{Kind: kind, Path: path, Info: sdk.Info{Name: name}}}
		byName[name] = s
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.paths {
		if q == path {
			return s
		}
	}
	s.paths = append(s.paths, path)
	return s
}

func (c *Catalog) slot(kind sdk.Kind, name string) *slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slots[kind][name]
}

// Add registers the plugin binary at path and opens it at once (its Info is read). A non-empty
// sha256 pins the binary: it must match before it runs, now and at every launch.
func (c *Catalog) Add(ctx context.Context, path, sha string) error {
	kind, name, ok := parseBinary(path)
	if !ok {
		return fmt.Errorf("plugins: %s: a plugin binary's name must be %s<runtime|perturbation|metric>-<name>", path, BinaryPrefix)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("plugins: %s: %w", path, err)
	}
	s := c.slotFor(kind, name, abs)
	if sha != "" {
		if err := s.setPin(sha); err != nil {
			return err
		}
	}
	_, err = s.open(ctx)
	return err
}

// Pin requires every binary of the plugin called name (any kind) to have the hex SHA-256 sum.
// The binaries are hashed, not run; a mismatch, or no such plugin, is an error.
func (c *Catalog) Pin(name, sum string) error {
	c.mu.Lock()
	var found []*slot
	for _, byName := range c.slots {
		if s, ok := byName[name]; ok {
			found = append(found, s)
		}
	}
	c.mu.Unlock()
	if len(found) == 0 {
		return fmt.Errorf("plugins: pinned plugin %q is not installed", name)
	}
	var errs []error
	for _, s := range found {
		errs = append(errs, s.setPin(sum))
	}
	return errors.Join(errs...)
}

// setPin records the pin and checks the binaries against it.
func (s *slot) setPin(sum string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pin = strings.ToLower(sum)
	if err := s.hash(false); err != nil {
		return err
	}
	if !equalHex(s.entry.SHA256, s.pin) {
		return fmt.Errorf("plugins: %s has sha256 %s, the study pins %s", s.entry.Path, s.entry.SHA256, s.pin)
	}
	s.entry.Pinned = true
	return nil
}

// hash computes the digest of the slot's binaries once; binaries of one name must be the same
// bytes. With seal (the check before the first launch) the copy launches run is made in the same
// pass; a pin only hashes, so that the first launch compares the file with the pin again. The
// caller holds s.mu.
func (s *slot) hash(seal bool) error {
	if s.entry.SHA256 != "" {
		return nil
	}
	var first string
	for i, p := range s.paths {
		hash := FileSHA256
		if i == 0 && seal {
			hash = sealAndHash // the binary launches run
		}
		sum, err := hash(p)
		if err != nil {
			return fmt.Errorf("plugins: %w", err)
		}
		if i == 0 {
			first = sum
		} else if sum != first {
			return fmt.Errorf("plugins: two %s plugins are named %q: %s and %s", s.entry.Kind, s.entry.Info.Name, s.paths[0], p)
		}
	}
	s.entry.SHA256 = first
	return nil
}

// open checks the binary (digest, pin) and runs it once to read its Info; the outcome is kept.
func (s *slot) open(ctx context.Context) (*Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return s.entry, s.err
	}
	err := s.describe(ctx)
	if ctx.Err() == nil { // a cancelled caller leaves the plugin to be opened again
		s.opened, s.err = true, err
	}
	return s.entry, err
}

func (s *slot) describe(ctx context.Context) error {
	if err := s.hash(true); err != nil {
		return err
	}
	e := s.entry
	if s.pin != "" && !equalHex(e.SHA256, s.pin) {
		return fmt.Errorf("plugins: %s has sha256 %s, the study pins %s", e.Path, e.SHA256, s.pin)
	}
	p, err := launch(e)
	if err != nil {
		return err
	}
	kept := false
	defer func() {
		if !kept {
			p.kill()
		}
	}()
	info, err := p.info(ctx)
	if err != nil {
		return err
	}
	if info.Kind != string(e.Kind) {
		return fmt.Errorf("plugins: %s says it is a %s plugin, its name says %s", e.Path, info.Kind, e.Kind)
	}
	if info.Name != e.Info.Name {
		return fmt.Errorf("plugins: %s says it is named %q, its file name says %q", e.Path, info.Name, e.Info.Name)
	}
	in, err := infoFromProto(info)
	if err != nil {
		return fmt.Errorf("plugins: %s: %w", e.Path, err)
	}
	e.Info = in
	keepSpare(e, p) // the run that asked starts the plugin next
	kept = true
	return nil
}

// Open returns the plugin of kind and name, running its binary (after the digest and pin checks)
// the first time to read its Info. A plugin no binary provides gives an error wrapping
// ErrNotInstalled.
func (c *Catalog) Open(ctx context.Context, kind sdk.Kind, name string) (*Entry, error) {
	s := c.slot(kind, name)
	if s == nil {
		return nil, fmt.Errorf("plugins: %s plugin %q: %w", kind, name, ErrNotInstalled)
	}
	e, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Lookup returns the plugin of kind and name, opened as Open does; a plugin that is installed
// but fails to open is logged and reported as absent (Open returns the reason).
func (c *Catalog) Lookup(kind sdk.Kind, name string) (*Entry, bool) {
	e, err := c.Open(context.Background(), kind, name)
	if err == nil {
		return e, true
	}
	if s := c.slot(kind, name); s != nil {
		s.mu.Lock()
		if !s.logged {
			s.logged = true
			logger.Error("plugin unusable", "kind", kind, "name", name, "error", err)
		}
		s.mu.Unlock()
	}
	return nil, false
}

// Describe opens every plugin of the catalog (for listings), concurrently.
func (c *Catalog) Describe(ctx context.Context) error {
	return c.openWhere(ctx, func(string) bool { return true })
}

// Prefetch opens, concurrently, the plugins of any kind with one of the names, so that the Open
// calls that follow (a study's validation, one plugin after another) find them open: hashing the
// binaries and reading their Info no longer add up at the start of a run. Failures are kept for
// Open to report.
func (c *Catalog) Prefetch(ctx context.Context, names []string) {
	_ = c.openWhere(ctx, func(name string) bool { return slices.Contains(names, name) })
}

// openWhere opens the plugins whose names match, concurrently.
func (c *Catalog) openWhere(ctx context.Context, match func(name string) bool) error {
	c.mu.Lock()
	var all []*slot
	for _, byName := range c.slots {
		for name, s := range byName {
			if match(name) {
				all = append(all, s)
			}
		}
	}
	c.mu.Unlock()
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.open(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Names lists the plugin names of kind, sorted (from file names; nothing is run).
func (c *Catalog) Names(kind sdk.Kind) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n := range c.slots[kind] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Entries lists all plugins sorted by kind and name, with their digests (binaries are hashed,
// not run: Info beyond the name is filled for opened plugins only; see Describe).
func (c *Catalog) Entries() []*Entry {
	c.mu.Lock()
	var all []*slot
	for _, byName := range c.slots {
		for _, s := range byName {
			all = append(all, s)
		}
	}
	c.mu.Unlock()
	var out []*Entry
	for _, s := range all {
		s.mu.Lock()
		if err := s.hash(false); err != nil {
			logger.Error("plugin unusable", "kind", s.entry.Kind, "name", s.entry.Info.Name, "error", err)
		}
		s.mu.Unlock()
		out = append(out, s.entry)
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

// CheckSHA256 checks that the file at path has the hex SHA-256 digest want (any case); a
// mismatch is a *ChangedError naming both digests.
func CheckSHA256(path, want string) error {
	if _, err := hex.DecodeString(want); err != nil || len(want) != 2*sha256.Size {
		return fmt.Errorf("check %s: sha256 %q is not 64 hex digits", path, want)
	}
	got, err := FileSHA256(path)
	if err != nil {
		return err
	}
	if !equalHex(got, want) {
		return &ChangedError{Path: path, Got: got, Want: want}
	}
	return nil
}

// ChangedError is a file whose contents do not have the digest they must have.
type ChangedError struct {
	Path string
	Got  string // the file's digest
	Want string // the digest it must have
}

// Error implements error.
func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s has sha256 %s, expected %s: refusing to use it", e.Path, e.Got, strings.ToLower(e.Want))
}

func equalHex(a, b string) bool { return strings.EqualFold(a, b) }
