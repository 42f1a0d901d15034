// Command gen writes the synthetic cue-conflict sets the zoo is trained and evaluated on, as PNG
// in the Geirhos layout, plus sets.json describing each set's generator configuration.
//
//	go run ./zoo/gen -out zoo/data
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vistudy/vistudy/stages/load/synth"
)

// set is one generated folder and the configuration that renders it.
type set struct {
	Name    string   `json:"name"`
	Set     string   `json:"set"`
	Seed    uint64   `json:"seed"`
	PerPair int      `json:"per_pair"`
	Size    int      `json:"size"`
	Classes []string `json:"classes"`
}

// sets are the zoo's training and evaluation sets; seeds differ so no image repeats across sets.
var sets = []struct {
	name    string
	kind    synth.SetKind
	seed    uint64
	perPair int
}{
	{"train-aligned", synth.Aligned, 101, 400},
	{"train-stylised", synth.Stylised, 102, 50},
	{"test-aligned", synth.Aligned, 201, 100},
	{"test-conflict", synth.Conflict, 202, 10},
	{"test-shape-only", synth.ShapeOnly, 203, 50},
	{"test-texture-only", synth.TextureOnly, 204, 50},
}

func main() {
	out := flag.String("out", "zoo/data", "output folder")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	var written []set
	for _, s := range sets {
		cfg := synth.Config{Seed: s.seed, PerPair: s.perPair, Set: s.kind}
		dir := filepath.Join(out, s.name)
		if err := synth.WriteDir(dir, cfg); err != nil {
			return fmt.Errorf("write set %s: %w", s.name, err)
		}
		g, err := synth.New(cfg)
		if err != nil {
			return fmt.Errorf("set %s: %w", s.name, err)
		}
		full := g.Config()
		written = append(written, set{Name: s.name, Set: full.Set.String(), Seed: full.Seed,
			PerPair: full.PerPair, Size: full.Size, Classes: full.Classes})
		fmt.Printf("%s: %d images in %s\n", s.name, len(g.Items()), dir)
	}
	b, err := json.MarshalIndent(written, "", "  ")
	if err != nil {
		return fmt.Errorf("encode sets.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "sets.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write sets.json: %w", err)
	}
	return nil
}
