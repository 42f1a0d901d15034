package clip

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
)

// TestTokenTable: a saved and reloaded table gives the tokenizer's batches, truncation included,
// and refuses a text it was not made for.
func TestTokenTable(t *testing.T) {
	tok, err := LoadTokenizer(testenv.SharedData(t, "clip", "bpe_simple_vocab_16e6.txt.gz"))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"a photo of a circle.", "a photo of a circle shape.", "Été — 東京 🚀", strings.Repeat("a long prompt ", 60), "{}"}
	tab, err := MakeTokenTable(tok, texts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := tab.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTokenTable(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.MergesSHA256 != tab.MergesSHA256 || got.Merges != "bpe_simple_vocab_16e6.txt.gz" {
		t.Errorf("merges %q %q", got.Merges, got.MergesSHA256)
	}
	for _, n := range []int{ContextLength, 5} {
		want, _ := tok.TokenizeAll(texts, n)
		have, err := got.TokenizeAll(texts, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if !slices.Equal(want[i], have[i]) {
				t.Errorf("n=%d %q: table %v, tokenizer %v", n, texts[i], have[i], want[i])
			}
		}
	}
	if _, err := got.TokenizeAll([]string{"a photo of a square."}, ContextLength); err == nil || !strings.Contains(err.Error(), "a photo of a square.") {
		t.Errorf("a text the table lacks: %v", err)
	}
	if m := got.Missing([]string{"{}", "x", "x"}); !slices.Equal(m, []string{"x"}) {
		t.Errorf("missing %v", m)
	}
}
