package labels

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sharedData is /work/shared/data seen from this package: the repo root is two folders up.
const sharedData = "../../../shared/data"

// embeddedSHA256 pins imagenet1k.tsv; change it only together with a reviewed change of the list.
const embeddedSHA256 = "c98cf8e050b2f67f824762ebdb5bcf683adc7955382b9ff8b1c0f49548bb449b"

func TestBuiltinImageNet1kInvariants(t *testing.T) {
	sum := sha256.Sum256(imagenet1kTSV)
	if got := hex.EncodeToString(sum[:]); got != embeddedSHA256 {
		t.Errorf("imagenet1k.tsv sha256 = %s, want %s", got, embeddedSHA256)
	}
	s, ok := Builtin(ImageNet1k)
	if !ok {
		t.Fatal("Builtin(imagenet1k) not found")
	}
	if s.Len() != 1000 || len(s.Names) != 1000 {
		t.Fatalf("Len = %d, names %d, want 1000", s.Len(), len(s.Names))
	}
	if !slices.IsSorted(s.IDs) {
		t.Error("wnids are not in sorted order")
	}
	if len(slices.Compact(slices.Clone(s.IDs))) != 1000 {
		t.Error("wnids are not unique")
	}
	for i, id := range s.IDs {
		if !wordNetID.MatchString(id) {
			t.Errorf("class %d id %q is not a WordNet id", i, id)
		}
	}
	for _, c := range []struct {
		i        int
		id, name string
	}{
		{0, "n01440764", "tench, Tinca tinca"},
		{1, "n01443537", "goldfish, Carassius auratus"},
		{134, "n02012849", "crane"},
		{517, "n03126707", "crane"},
		{999, "n15075141", "toilet tissue, toilet paper, bathroom tissue"},
	} {
		if s.ClassID(c.i) != c.id || s.ClassName(c.i) != c.name {
			t.Errorf("class %d = %q %q, want %q %q", c.i, s.ClassID(c.i), s.ClassName(c.i), c.id, c.name)
		}
	}
	if _, ok := Builtin("imagenet21k"); ok {
		t.Error("Builtin(imagenet21k) found, only imagenet1k exists")
	}
}

func TestIndex(t *testing.T) {
	in, _ := Builtin(ImageNet1k)
	literal := &Space{Name: "lit", IDs: []string{"a", "b", "c"}, Names: []string{"x", "y", "x"}}
	for _, c := range []struct {
		s    *Space
		key  string
		want int
		ok   bool
	}{
		{in, "n01440764", 0, true},
		{in, "tench, Tinca tinca", 0, true},
		{in, "n15075141", 999, true},
		{in, "crane", 0, false}, // two classes share the name
		{in, "n02012849", 134, true},
		{in, "tench", 0, false}, // exact match only
		{in, "", 0, false},
		{literal, "b", 1, true},
		{literal, "y", 1, true},
		{literal, "x", 0, false},
		{literal, "z", 0, false},
	} {
		got, ok := c.s.Index(c.key)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s.Index(%q) = %d, %v; want %d, %v", c.s.Name, c.key, got, ok, c.want, c.ok)
		}
	}
}

func TestBuiltinMatchesSharedFiles(t *testing.T) {
	wnids, err := os.ReadFile(filepath.Join(sharedData, "imagenet1k_wnids.txt"))
	if err != nil {
		t.Skipf("shared data absent (%v); the invariant test covers the embedded list", err)
	}
	s, _ := Builtin(ImageNet1k)
	if got := strings.Fields(string(wnids)); !slices.Equal(got, s.IDs) {
		t.Errorf("embedded wnids differ from imagenet1k_wnids.txt (%d vs %d lines)", len(s.IDs), len(got))
	}
	fromFile, err := Resolve("models/squeezenet1.1-fp16/labels.txt", sharedData)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile.Len() != 1000 {
		t.Fatalf("labels.txt gives %d classes, want 1000", fromFile.Len())
	}
	for i := range 1000 {
		// labels.txt ends its last line with a stray unbalanced quote; the embedded list drops it.
		if got := strings.TrimSuffix(fromFile.ClassName(i), `"`); got != s.ClassName(i) {
			t.Errorf("class %d: labels.txt %q, embedded %q", i, got, s.ClassName(i))
		}
	}
}

func TestResolveFormats(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content string
		ids, names    []string
	}{
		{"plain.txt", "cat\ndog\n\n# comment\nhot dog\n", []string{"cat", "dog", "hot dog"}, []string{"cat", "dog", "hot dog"}},
		{"crlf-bom.txt", "\xef\xbb\xbfcat\r\ndog\r\n", []string{"cat", "dog"}, []string{"cat", "dog"}},
		{"indexed.csv", "1,dog, domestic dog\n0,cat\n2,\"quoted, name\"\n", []string{"cat", "dog, domestic dog", "quoted, name"}, []string{"cat", "dog, domestic dog", "quoted, name"}},
		{"indexed-dup-name.csv", "0,crane\n1,crane\n", []string{"crane", "crane"}, []string{"crane", "crane"}},
		{"wnid.txt", "n01440764 tench, Tinca tinca\nn01443537 goldfish\n", []string{"n01440764", "n01443537"}, []string{"tench, Tinca tinca", "goldfish"}},
		{"wnid.tsv", "n01440764\ttench\nn01443537\tgold fish\n", []string{"n01440764", "n01443537"}, []string{"tench", "gold fish"}},
		{"ids.tsv", "a1\tfirst\nb2\tsecond\n", []string{"a1", "b2"}, []string{"first", "second"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, c.name), []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Resolve(c.name, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.IDs, c.ids) || !slices.Equal(s.Names, c.names) {
				t.Errorf("got ids %q names %q, want %q %q", s.IDs, s.Names, c.ids, c.names)
			}
			for i := range s.Len() {
				if j, ok := s.Index(s.ClassID(i)); ok && j != i {
					t.Errorf("Index(ClassID(%d)) = %d", i, j)
				}
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content string
		want          []string // substrings of the error
	}{
		{"missing.txt", "", []string{"missing.txt", "no such file"}},
		{"empty.txt", "\n# only a comment\n", []string{"empty.txt", "no class names"}},
		{"dup.txt", "cat\ndog\ncat\n", []string{"dup.txt:3", `"cat"`, "line 1"}},
		{"gap.csv", "0,cat\n2,dog\n", []string{"gap.csv:2", "index 2 out of range"}},
		{"dupidx.csv", "0,cat\n0,dog\n", []string{"dupidx.csv:2", "index 0 already given on line 1"}},
		{"mixed.csv", "0,cat\ndog\n", []string{"mixed.csv:2", "index,name", `"dog"`}},
		{"badwnid.txt", "n01440764 tench\nfish tank\n", []string{"badwnid.txt:2", "WordNet id"}},
		{"dupwnid.txt", "n01440764 tench\nn01440764 tinca\n", []string{"dupwnid.txt", "n01440764", "classes 0 and 1"}},
		{"tabs.tsv", "a\tb\nno tab here\n", []string{"tabs.tsv:2", "id<TAB>name"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name != "missing.txt" {
				if err := os.WriteFile(filepath.Join(dir, c.name), []byte(c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Resolve(c.name, dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := Resolve("", dir); err == nil {
		t.Error("Resolve(\"\") gave no error")
	}
}

func TestNewRejects(t *testing.T) {
	for _, c := range []struct {
		name        string
		ids, names  []string
		wantInError string
	}{
		{"lengths", []string{"a"}, []string{"x", "y"}, "1 ids but 2 names"},
		{"empty", []string{"a", ""}, []string{"x", "y"}, "class 1"},
		{"dup", []string{"a", "a"}, []string{"x", "y"}, `id "a"`},
	} {
		_, err := New(c.name, c.ids, c.names)
		if err == nil || !strings.Contains(err.Error(), c.wantInError) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.wantInError)
		}
	}
}
