// Command tokenize writes CLIP token ids for text lines, so the zoo's training script uses CLIP's real
// tokenizer (runtimes/clip): one input line in, one line of 77 space-separated ids out.
//
//	go run ./zoo/clip/tokenize -merges ../shared/data/clip/bpe_simple_vocab_16e6.txt.gz < captions.txt
//
// With -table it writes a token table (clip.TokenTable) instead: the ids of the texts read, or with
// -card of every prompt of the model card (clip.json: each of its prompts and the bare name, for
// each class), which a study reads with `tokens:` instead of the merges file (the default study):
//
//	go run ./zoo/clip/tokenize -merges ../shared/data/clip/bpe_simple_vocab_16e6.txt.gz \
//	    -card zoo/clip/clip.json -table zoo/clip/tokens.json
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/vistudy/vistudy/runtimes/clip"
)

func main() {
	merges := flag.String("merges", "", "CLIP's merges file (bpe_simple_vocab_16e6.txt.gz)")
	table := flag.String("table", "", "write a token table (JSON) of the texts to this file")
	card := flag.String("card", "", "with -table: the texts are the model card's prompts for its classes")
	flag.Parse()
	if err := run(*merges, *table, *card); err != nil {
		fmt.Fprintln(os.Stderr, "tokenize:", err)
		os.Exit(1)
	}
}

func run(merges, table, card string) error {
	tok, err := clip.LoadTokenizer(merges)
	if err != nil {
		return err
	}
	if table != "" {
		texts, err := tableTexts(card)
		if err != nil {
			return err
		}
		t, err := clip.MakeTokenTable(tok, texts)
		if err != nil {
			return err
		}
		return t.Save(table)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		for i, id := range tok.Tokenize(in.Text()) {
			if i > 0 {
				out.WriteByte(' ')
			}
			out.WriteString(strconv.FormatInt(id, 10))
		}
		out.WriteByte('\n')
	}
	if err := in.Err(); err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	return out.Flush()
}

// tableTexts are the card's prompts filled with its classes (card != ""), else standard input's lines.
func tableTexts(card string) ([]string, error) {
	var texts []string
	if card == "" {
		in := bufio.NewScanner(os.Stdin)
		in.Buffer(nil, 1<<20)
		for in.Scan() {
			texts = append(texts, in.Text())
		}
		return texts, in.Err()
	}
	b, err := os.ReadFile(card)
	if err != nil {
		return nil, err
	}
	var c struct {
		Classes []string          `json:"classes"`
		Prompts map[string]string `json:"prompts"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", card, err)
	}
	templates := []string{clip.BareTemplate}
	for _, p := range c.Prompts {
		templates = append(templates, p)
	}
	sort.Strings(templates)
	if err := clip.CheckTemplates(templates); err != nil {
		return nil, fmt.Errorf("%s: %w", card, err)
	}
	for _, t := range templates {
		for _, cls := range c.Classes {
			texts = append(texts, clip.Fill(t, cls))
		}
	}
	return texts, nil
}
