package clip

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The token ids and the context length of CLIP's tokenizer.
const (
	StartToken    = 49406 // <|startoftext|>
	EndToken      = 49407 // <|endoftext|>
	VocabSize     = 49408 // 256 bytes, 256 word-final bytes, 48,894 merges, 2 special tokens
	ContextLength = 77    // token sequence length of every CLIP text encoder
	mergeCount    = VocabSize - 512 - 2
	startText     = "<|startoftext|>"
	endText       = "<|endoftext|>"
)

// Tokenizer is CLIP's byte-level BPE tokenizer. It is safe for concurrent use.
type Tokenizer struct {
	path    string
	encoder map[string]int32
	ranks   map[[2]string]int32
	mu      sync.Mutex
	cache   map[string][]int32 // byte-encoded pre-token → ids
}

// byteRunes maps each byte to the printable rune that stands for it in the vocabulary, and
// byteOrder lists the bytes in vocabulary order (printable Latin-1 first, then the rest).
var byteRunes, byteOrder = byteTable()

func byteTable() (m [256]rune, order [256]byte) {
	n, k := 0, 0
	printable := func(b int) bool {
		return ('!' <= b && b <= '~') || (0xa1 <= b && b <= 0xac) || (0xae <= b && b <= 0xff)
	}
	for b := 0; b < 256; b++ {
		if printable(b) {
			m[b] = rune(b)
			order[k] = byte(b)
			k++
		}
	}
	for b := 0; b < 256; b++ {
		if !printable(b) {
			m[b] = rune(256 + n)
			n++
			order[k] = byte(b)
			k++
		}
	}
	return m, order
}

// LoadTokenizer reads the gzipped merges file (bpe_simple_vocab_16e6.txt.gz: a header line, then
// one "left right" merge per line) and builds the 49,408-token vocabulary.
func LoadTokenizer(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("clip tokenizer: merges file: %w", err)
	}
	defer f.Close()
	t, err := readMerges(f.Name(), f)
	if err != nil {
		return nil, fmt.Errorf("clip tokenizer: merges file %s: %w", path, err)
	}
	return t, nil
}

func readMerges(path string, f *os.File) (*Tokenizer, error) {
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("not a gzip file: %w", err)
	}
	defer zr.Close()
	t := &Tokenizer{
		path:    path,
		encoder: make(map[string]int32, VocabSize),
		ranks:   make(map[[2]string]int32, mergeCount),
		cache:   make(map[string][]int32),
	}
	for i, b := range byteOrder {
		t.encoder[string(byteRunes[b])] = int32(i)
		t.encoder[string(byteRunes[b])+"</w>"] = int32(i + 256)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 || len(t.ranks) == mergeCount {
			continue // the version header; merges past the vocabulary (read to check the file is whole)
		}
		parts := strings.Fields(sc.Text())
		if len(parts) != 2 || !utf8.ValidString(sc.Text()) {
			return nil, fmt.Errorf("line %d: want two symbols, got %q", line, sc.Text())
		}
		p := [2]string{parts[0], parts[1]}
		if _, dup := t.ranks[p]; dup {
			return nil, fmt.Errorf("line %d: merge %q repeated", line, sc.Text())
		}
		t.ranks[p] = int32(len(t.ranks))
		t.encoder[p[0]+p[1]] = int32(512 + len(t.ranks) - 1)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read after line %d: %w", line, err)
	}
	if len(t.ranks) < mergeCount {
		return nil, fmt.Errorf("%d merges, want %d (truncated file?)", len(t.ranks), mergeCount)
	}
	if len(t.encoder) != VocabSize-2 {
		return nil, fmt.Errorf("%d distinct tokens, want %d", len(t.encoder), VocabSize-2)
	}
	t.encoder[startText] = StartToken
	t.encoder[endText] = EndToken
	return t, nil
}

// Path is the merges file the tokenizer was loaded from.
func (t *Tokenizer) Path() string { return t.path }

// Encode returns the BPE token ids of text, without start and end tokens, as the reference's
// SimpleTokenizer.encode does.
func (t *Tokenizer) Encode(text string) []int {
	var ids []int
	for _, tok := range preTokens(cleanText(text)) {
		for _, id := range t.bpe(tok) {
			ids = append(ids, int(id))
		}
	}
	return ids
}

// Tokenize returns the ContextLength token ids of text as a CLIP text encoder takes them: the start
// token, the BPE ids, the end token, zero padding. A longer sequence is cut to ContextLength with the
// end token kept last (openai/CLIP's tokenize(truncate=True) and open_clip's tokenizer).
func (t *Tokenizer) Tokenize(text string) []int64 {
	return t.TokenizeLength(text, ContextLength)
}

// TokenizeLength is Tokenize for a context of n tokens; it panics for n < 2 (TokenizeAll checks).
func (t *Tokenizer) TokenizeLength(text string, n int) []int64 {
	out := make([]int64, n)
	out[0] = StartToken
	k := 1
	for _, id := range t.Encode(text) {
		if k == n-1 {
			break
		}
		out[k] = int64(id)
		k++
	}
	out[k] = EndToken
	return out
}

// ErrContext is returned for a context length below 2 (room for the start and end tokens).
var ErrContext = errors.New("context length below 2")

// TokenizeAll tokenizes texts into a [len(texts)][n] batch.
func (t *Tokenizer) TokenizeAll(texts []string, n int) ([][]int64, error) {
	if n < 2 {
		return nil, fmt.Errorf("clip tokenizer: %w: %d", ErrContext, n)
	}
	out := make([][]int64, len(texts))
	for i, s := range texts {
		out[i] = t.TokenizeLength(s, n)
	}
	return out, nil
}

// bpe returns the ids of one pre-token (its UTF-8 text).
func (t *Tokenizer) bpe(tok string) []int32 {
	var sb strings.Builder
	for i := 0; i < len(tok); i++ {
		sb.WriteRune(byteRunes[tok[i]])
	}
	key := sb.String()
	if tok == startText || tok == endText {
		return []int32{t.encoder[tok]}
	}
	t.mu.Lock()
	ids, ok := t.cache[key]
	t.mu.Unlock()
	if ok {
		return ids
	}
	word := make([]string, 0, len(tok))
	for _, r := range key {
		word = append(word, string(r))
	}
	word[len(word)-1] += "</w>"
	for len(word) > 1 {
		best, bestRank := -1, int32(-1)
		for i := 0; i+1 < len(word); i++ {
			if r, ok := t.ranks[[2]string{word[i], word[i+1]}]; ok && (best < 0 || r < bestRank) {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		first, second := word[best], word[best+1]
		merged := word[:0:0]
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == first && word[i+1] == second {
				merged = append(merged, first+second)
				i += 2
			} else {
				merged = append(merged, word[i])
				i++
			}
		}
		word = merged
	}
	ids = make([]int32, len(word))
	for i, w := range word {
		ids[i] = t.encoder[w]
	}
	t.mu.Lock()
	if len(t.cache) < 1<<16 {
		t.cache[key] = ids
	}
	t.mu.Unlock()
	return ids
}

// preTokens splits cleaned text as the reference pattern does (python-regex, IGNORECASE):
// <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// The alternatives are tried in order at each position; a character no alternative takes (white
// space) is skipped.
func preTokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if n := matchLiteral(s[i:]); n > 0 {
			out = append(out, s[i:i+n])
			i += n
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case isLetter(r):
			j := i + w
			for j < len(s) {
				r, w := utf8.DecodeRuneInString(s[j:])
				if !isLetter(r) {
					break
				}
				j += w
			}
			out = append(out, s[i:j])
			i = j
		case isNumber(r):
			out = append(out, s[i:i+w])
			i += w
		case isSkipped(r):
			i += w
		default:
			j := i + w
			for j < len(s) {
				r, w := utf8.DecodeRuneInString(s[j:])
				if isLetter(r) || isNumber(r) || isSkipped(r) {
					break
				}
				j += w
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

// literals are the pattern's literal alternatives, in pattern order.
var literals = []string{startText, endText, "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// matchLiteral is the length in bytes of the first literal alternative matching at the start of s
// case-insensitively (so "'ſ" matches 's, as in python-regex), or 0.
func matchLiteral(s string) int {
	for _, lit := range literals {
		j := 0
		ok := true
		for _, p := range lit {
			if j >= len(s) {
				ok = false
				break
			}
			r, w := utf8.DecodeRuneInString(s[j:])
			if !foldEqual(r, p) {
				ok = false
				break
			}
			j += w
		}
		if ok {
			return j
		}
	}
	return 0
}

// foldEqual reports whether r and p are equal under simple case folding.
func foldEqual(r, p rune) bool {
	if r == p {
		return true
	}
	for f := unicode.SimpleFold(p); f != p; f = unicode.SimpleFold(f) {
		if f == r {
			return true
		}
	}
	return false
}

// isSkipped reports a character no alternative of the pattern takes: white space, and U+0345
// (combining ypogegrammeni), which python-regex under IGNORECASE keeps out of [^\s\p{L}\p{N}]
// because its case variants (ι, Ι) are letters, while [\p{L}] does not take it either.
func isSkipped(r rune) bool { return isRegexSpace(r) || r == 0x345 }

// isLetter is \p{L}; isNumber is \p{N}.
func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }
