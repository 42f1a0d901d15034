package clip

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Tokens turns texts into token-id batches: a Tokenizer (any text) or a TokenTable (the texts it
// was made for).
type Tokens interface {
	TokenizeAll(texts []string, n int) ([][]int64, error)
}

// TokenTable holds the token ids of a fixed set of texts, made by the Tokenizer from the merges file,
// so that a study whose prompts it covers runs without the merges file (the zoo's default study).
// The ids are the Tokenizer's by construction; a text the table lacks is an error, never a guess.
type TokenTable struct {
	Merges       string             `json:"merges"`        // base name of the merges file the ids come from
	MergesSHA256 string             `json:"merges_sha256"` // its SHA-256
	Tokens       map[string][]int64 `json:"tokens"`        // text → ids: start token, BPE ids, end token (no padding)
	path         string
}

// MakeTokenTable tokenizes texts with tok (loaded from its merges file) into a table.
func MakeTokenTable(tok *Tokenizer, texts []string) (*TokenTable, error) {
	f, err := os.Open(tok.Path())
	if err != nil {
		return nil, fmt.Errorf("token table: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("token table: %w", err)
	}
	t := &TokenTable{Merges: filepath.Base(tok.Path()), MergesSHA256: hex.EncodeToString(h.Sum(nil)), Tokens: map[string][]int64{}}
	for _, s := range texts {
		enc := tok.Encode(s)
		ids := make([]int64, 0, len(enc)+2)
		ids = append(ids, StartToken)
		for _, id := range enc {
			ids = append(ids, int64(id))
		}
		t.Tokens[s] = append(ids, EndToken)
	}
	return t, nil
}

// Save writes the table as JSON, one text per line in sorted order (a diff shows what changed).
func (t *TokenTable) Save(path string) error {
	texts := make([]string, 0, len(t.Tokens))
	for s := range t.Tokens {
		texts = append(texts, s)
	}
	sort.Strings(texts)
	var b bytes.Buffer
	m, _ := json.Marshal(t.Merges)
	fmt.Fprintf(&b, "{\"merges\": %s, \"merges_sha256\": %q,\n\"tokens\": {\n", m, t.MergesSHA256)
	for i, s := range texts {
		k, _ := json.Marshal(s)
		v, _ := json.Marshal(t.Tokens[s])
		sep := ","
		if i == len(texts)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s: %s%s\n", k, v, sep)
	}
	b.WriteString("}}\n")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("save token table: %w", err)
	}
	return nil
}

// LoadTokenTable reads a table Save wrote and checks its ids.
func LoadTokenTable(path string) (*TokenTable, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token table: %w", err)
	}
	var t TokenTable
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("token table %s: %w", path, err)
	}
	if len(t.Tokens) == 0 {
		return nil, fmt.Errorf("token table %s: no \"tokens\"", path)
	}
	for s, ids := range t.Tokens {
		if len(ids) < 2 || ids[0] != StartToken || ids[len(ids)-1] != EndToken {
			return nil, fmt.Errorf("token table %s: %q: ids must start with %d and end with %d", path, s, StartToken, EndToken)
		}
		for _, id := range ids {
			if id < 0 || id >= VocabSize {
				return nil, fmt.Errorf("token table %s: %q: id %d outside the vocabulary of %d", path, s, id, VocabSize)
			}
		}
	}
	t.path = path
	return &t, nil
}

// Path is the file the table was loaded from.
func (t *TokenTable) Path() string { return t.path }

// Missing lists the texts the table has no ids for.
func (t *TokenTable) Missing(texts []string) []string {
	var out []string
	for _, s := range texts {
		if _, ok := t.Tokens[s]; !ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// TokenizeAll returns the [len(texts)][n] batch a Tokenizer would (cut to n with the end token
// kept last, zero padding); a text not in the table is an error.
func (t *TokenTable) TokenizeAll(texts []string, n int) ([][]int64, error) {
	if n < 2 {
		return nil, fmt.Errorf("token table: %w: %d", ErrContext, n)
	}
	out := make([][]int64, len(texts))
	for i, s := range texts {
		ids, ok := t.Tokens[s]
		if !ok {
			return nil, fmt.Errorf("token table %s has no ids for %q (make it again with the text, or give the merges file)", t.path, s)
		}
		row := make([]int64, n)
		k := copy(row[:n-1], ids[:len(ids)-1])
		row[k] = EndToken
		out[i] = row
	}
	return out, nil
}
