package pipeline

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard selects the units of one part of a sharded run: unit k belongs to shard k mod Count.
type Shard struct {
	Index, Count int
}

// ParseShard reads "i/N" ("" is the whole run).
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{0, 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/N with 0 ≤ i < N, e.g. 0/4", s)
	}
	return Shard{i, n}, nil
}

// Has reports whether unit k belongs to this shard.
func (s Shard) Has(k int) bool { return s.Count <= 1 || k%s.Count == s.Index }

// Whole reports whether the shard is the whole run.
func (s Shard) Whole() bool { return s.Count <= 1 }

// String renders i/N.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, max(s.Count, 1)) }
