// Command tokenize writes CLIP token ids for text lines, so the zoo's training script uses CLIP's real
// tokenizer (runtimes/clip): one input line in, one line of 77 space-separated ids out.
//
//	go run ./zoo/clip/tokenize -merges ../shared/data/clip/bpe_simple_vocab_16e6.txt.gz < captions.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/vistudy/vistudy/runtimes/clip"
)

func main() {
	merges := flag.String("merges", "", "CLIP's merges file (bpe_simple_vocab_16e6.txt.gz)")
	flag.Parse()
	if err := run(*merges); err != nil {
		fmt.Fprintln(os.Stderr, "tokenize:", err)
		os.Exit(1)
	}
}

func run(merges string) error {
	tok, err := clip.LoadTokenizer(merges)
	if err != nil {
		return err
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
