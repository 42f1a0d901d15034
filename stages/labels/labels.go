// Package labels holds label spaces: the ordered class lists that give a label
// index its meaning, the built-in ImageNet-1k space and class-name files.
package labels

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ImageNet1k is the name of the built-in ILSVRC-2012 label space.
const ImageNet1k = "imagenet1k"

// imagenet1kTSV is the ILSVRC-2012 class list: one "wnid<TAB>name" line per class, in sorted-wnid order.
//
//go:embed imagenet1k.tsv
var imagenet1kTSV []byte

// Space is an ordered list of classes: class i has ID IDs[i] and human-readable name Names[i].
// Build one with New, Builtin or Resolve and treat it as read-only afterwards.
type Space struct {
	Name  string   // the space's name: a built-in name or the file it was read from
	IDs   []string // unique class ids: WordNet ids for imagenet1k, the class names for a plain list
	Names []string // human-readable class names; several classes may share one (ImageNet has two "crane")

	byID, byName map[string]int // key → class index, or -1 when the key is shared by several classes
}

// New builds a space from parallel id and name lists; ids must be unique and no entry may be empty.
func New(name string, ids, names []string) (*Space, error) {
	if len(ids) != len(names) {
		return nil, fmt.Errorf("labels: space %q: %d ids but %d names", name, len(ids), len(names))
	}
	s := &Space{Name: name, IDs: ids, Names: names, byID: make(map[string]int, len(ids)), byName: make(map[string]int, len(names))}
	for i, id := range ids {
		if id == "" || names[i] == "" {
			return nil, fmt.Errorf("labels: space %q: class %d has an empty id or name", name, i)
		}
		if j, dup := s.byID[id]; dup {
			return nil, fmt.Errorf("labels: space %q: id %q is used by classes %d and %d", name, id, j, i)
		}
		s.byID[id] = i
		addKey(s.byName, names[i], i)
	}
	return s, nil
}

// addKey records key → i, marking keys seen more than once as ambiguous (-1).
func addKey(m map[string]int, key string, i int) {
	if _, seen := m[key]; seen {
		m[key] = -1
		return
	}
	m[key] = i
}

// Len is the number of classes.
func (s *Space) Len() int { return len(s.IDs) }

// ClassID returns the id of class i.
func (s *Space) ClassID(i int) string { return s.IDs[i] }

// ClassName returns the human-readable name of class i.
func (s *Space) ClassName(i int) string { return s.Names[i] }

// Index finds the class whose ID or name equals key exactly; a name shared by several classes matches none.
func (s *Space) Index(key string) (int, bool) {
	if s.byID == nil { // a Space built as a literal: scan
		for i, id := range s.IDs {
			if id == key {
				return i, true
			}
		}
		found := -1
		for i, n := range s.Names {
			if n == key {
				if found >= 0 {
					return 0, false
				}
				found = i
			}
		}
		return found, found >= 0
	}
	if i, ok := s.byID[key]; ok && i >= 0 {
		return i, true
	}
	if i, ok := s.byName[key]; ok && i >= 0 {
		return i, true
	}
	return 0, false
}

// Builtin returns the built-in space of that name; only "imagenet1k" exists.
func Builtin(name string) (*Space, bool) {
	if name != ImageNet1k {
		return nil, false
	}
	s, err := parse(ImageNet1k, imagenet1kTSV)
	if err != nil {
		panic(fmt.Sprintf("labels: embedded imagenet1k.tsv is corrupt: %v", err)) // caught by the package tests
	}
	return s, true
}

// Resolve returns the built-in space spec names, or reads the class file at spec (relative to baseDir).
func Resolve(spec, baseDir string) (*Space, error) {
	if spec == "" {
		return nil, fmt.Errorf("labels: empty label space (want %q or a class-name file)", ImageNet1k)
	}
	if s, ok := Builtin(spec); ok {
		return s, nil
	}
	path := spec
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("labels: read label space %q: %w", spec, err)
	}
	return parse(path, data)
}

// Line formats of a class file, decided by its first entry.
const (
	formatPlain    = "one class name per line"
	formatIndexed  = "index,name"
	formatWordNet  = "wnid name"
	formatTabbed   = "id<TAB>name"
	wordNetPattern = `^n\d{8}$`
)

var (
	indexedLine = regexp.MustCompile(`^(\d+),(.*)$`)
	wordNetID   = regexp.MustCompile(wordNetPattern)
)

// parse reads a class file: blank lines and lines starting with # are skipped; errors name file and line.
func parse(file string, data []byte) (*Space, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var (
		format         string
		ids, names     []string
		lines, indices []int // file line and (index,name format) given index of each entry
		lineOfIndex    = map[int]int{}
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if format == "" {
			format = detect(line)
		}
		id, name, err := split(format, line)
		if err != nil {
			return nil, fmt.Errorf("labels: %s:%d: %w", file, n, err)
		}
		if format == formatIndexed {
			idx, err := strconv.Atoi(id)
			if err != nil {
				return nil, fmt.Errorf("labels: %s:%d: index %q: %w", file, n, id, err)
			}
			if prev, dup := lineOfIndex[idx]; dup {
				return nil, fmt.Errorf("labels: %s:%d: index %d already given on line %d", file, n, idx, prev)
			}
			lineOfIndex[idx] = n
			indices = append(indices, idx)
		}
		ids, names, lines = append(ids, id), append(names, name), append(lines, n)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labels: read %s: %w", file, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("labels: %s holds no class names", file)
	}
	switch format {
	case formatIndexed:
		ordered := make([]string, len(names))
		for i, idx := range indices {
			if idx >= len(names) {
				return nil, fmt.Errorf("labels: %s:%d: index %d out of range: the file lists %d classes (indices 0..%d)",
					file, lines[i], idx, len(names), len(names)-1)
			}
			ordered[idx] = names[i] // indices are unique and < n, so every slot is filled
		}
		return newNamed(file, ordered, nil)
	case formatPlain:
		return newNamed(file, names, lines)
	}
	s, err := New(file, ids, names)
	if err != nil {
		return nil, fmt.Errorf("labels: %s: %w", file, err)
	}
	return s, nil
}

// newNamed builds a space whose ids are its names; with lines (a plain list) a repeated name is an error.
func newNamed(file string, names []string, lines []int) (*Space, error) {
	s := &Space{Name: file, IDs: names, Names: names, byID: map[string]int{}, byName: map[string]int{}}
	for i, n := range names {
		if j, dup := s.byID[n]; dup && lines != nil {
			return nil, fmt.Errorf("labels: %s:%d: class name %q repeats line %d", file, lines[i], n, lines[j])
		}
		addKey(s.byID, n, i)
		addKey(s.byName, n, i)
	}
	return s, nil
}

// detect chooses the format of a class file from its first entry.
func detect(line string) string {
	switch {
	case indexedLine.MatchString(line):
		return formatIndexed
	case strings.Contains(line, "\t"):
		return formatTabbed
	default:
		if f := strings.Fields(line); len(f) > 1 && wordNetID.MatchString(f[0]) {
			return formatWordNet
		}
		return formatPlain
	}
}

// split parses one entry of format into id and name.
func split(format, line string) (id, name string, err error) {
	switch format {
	case formatIndexed:
		m := indexedLine.FindStringSubmatch(line)
		if m == nil {
			return "", "", fmt.Errorf("want %q like the first entry, got %q", format, line)
		}
		id, name = m[1], unquote(strings.TrimSpace(m[2]))
	case formatTabbed:
		var ok bool
		id, name, ok = strings.Cut(line, "\t")
		if !ok {
			return "", "", fmt.Errorf("want %q like the first entry, got %q", format, line)
		}
		id, name = strings.TrimSpace(id), unquote(strings.TrimSpace(name))
	case formatWordNet:
		id, name, _ = strings.Cut(strings.TrimSpace(line), " ")
		if !wordNetID.MatchString(id) {
			return "", "", fmt.Errorf("want %q like the first entry (a WordNet id such as n01440764), got %q", format, line)
		}
		name = unquote(strings.TrimSpace(name))
	default:
		name = strings.TrimSpace(line)
		id = name
	}
	if id == "" || name == "" {
		return "", "", fmt.Errorf("empty class id or name in %q", line)
	}
	return id, name, nil
}

// unquote removes one pair of CSV double quotes around s ("" inside stands for ").
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}
