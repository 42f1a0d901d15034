package pipeline

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder reads yaml nodes into Go values, recording a problem with a position for every
// value of the wrong shape.
type decoder struct {
	file      string
	probs     *Problems
	overrides map[*yaml.Node]string // nodes set by flags or environment, and where from
	budget    int                   // values value() may still decode (aliases count each time)
	exhausted bool
}

func (d *decoder) pos(n *yaml.Node) Pos {
	if src, ok := d.overrides[n]; ok {
		return Pos{File: d.file, Override: src}
	}
	if n == nil {
		return Pos{File: d.file}
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) problem(n *yaml.Node, format string, args ...any) {
	d.probs.add(d.pos(n), format, args...)
}

// field is one key of a mapping with its value.
type field struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

// fields returns a mapping's fields in order, reporting duplicates and keys not in allowed
// (allowed nil: any key).
func (d *decoder) fields(n *yaml.Node, what string, allowed []string) []field {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.problem(n, "%s must be a mapping (key: value lines), found %s", what, describeNode(n))
		return nil
	}
	var out []field
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			d.problem(k, "%s has the key %q twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			d.problem(k, "unknown key %q in %s (expected one of: %s)", k.Value, what, strings.Join(allowed, ", "))
			continue
		}
		out = append(out, field{key: k.Value, keyN: k, value: v})
	}
	return out
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} with the environment variable's value; an unset variable is a problem.
func (d *decoder) expand(n *yaml.Node, s string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		name := envRef.FindStringSubmatch(m)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			d.problem(n, "environment variable %s is not set (used as ${%s})", name, name)
		}
		return v
	})
}

func (d *decoder) scalar(n *yaml.Node, what, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.problem(n, "%s must be %s, found %s", what, want, describeNode(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, what string) string {
	s, ok := d.scalar(n, what, "a string")
	if !ok {
		return ""
	}
	return d.expand(n, s)
}

func (d *decoder) integer(n *yaml.Node, what string) int {
	s, ok := d.scalar(n, what, "an integer")
	if !ok {
		return 0
	}
	v, err := strconv.ParseInt(d.expand(n, s), 0, 64)
	if err != nil {
		d.problem(n, "%s must be an integer, found %q", what, s)
	}
	return int(v)
}

func (d *decoder) uinteger(n *yaml.Node, what string) uint64 {
	s, ok := d.scalar(n, what, "a non-negative integer")
	if !ok {
		return 0
	}
	v, err := strconv.ParseUint(d.expand(n, s), 0, 64)
	if err != nil {
		d.problem(n, "%s must be a non-negative integer, found %q", what, s)
	}
	return v
}

func (d *decoder) float(n *yaml.Node, what string) float64 {
	s, ok := d.scalar(n, what, "a number")
	if !ok {
		return 0
	}
	v, err := strconv.ParseFloat(d.expand(n, s), 64)
	if err != nil || math.IsNaN(v) {
		d.problem(n, "%s must be a number, found %q", what, s)
	}
	return v
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	s, ok := d.scalar(n, what, "true or false")
	if !ok {
		return false
	}
	switch strings.ToLower(d.expand(n, s)) {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	d.problem(n, "%s must be true or false, found %q", what, s)
	return false
}

// list returns the items of a sequence; a scalar counts as a one-item list.
func (d *decoder) list(n *yaml.Node, what string) []*yaml.Node {
	switch n.Kind {
	case yaml.SequenceNode:
		return n.Content
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		return []*yaml.Node{n}
	}
	d.problem(n, "%s must be a list, found %s", what, describeNode(n))
	return nil
}

func (d *decoder) strs(n *yaml.Node, what string) []string {
	var out []string
	for i, e := range d.list(n, what) {
		out = append(out, d.str(e, fmt.Sprintf("%s[%d]", what, i)))
	}
	return out
}

func (d *decoder) floats(n *yaml.Node, what string) []float64 {
	var out []float64
	for i, e := range d.list(n, what) {
		out = append(out, d.float(e, fmt.Sprintf("%s[%d]", what, i)))
	}
	return out
}

// value decodes any node into JSON-shaped Go values (map[string]any, []any, float64, bool, string, nil).
func (d *decoder) value(n *yaml.Node) any {
	if d.budget--; d.budget < 0 {
		if !d.exhausted {
			d.exhausted = true
			d.problem(n, "the study expands to more than %d values (through YAML aliases?): refused", maxStudyValues)
		}
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, f := range d.fields(n, "mapping", nil) {
			m[f.key] = d.value(f.value)
		}
		return m
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			out[i] = d.value(e)
		}
		return out
	case yaml.AliasNode:
		return d.value(n.Alias)
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return d.value(n.Content[0])
		}
		return nil
	}
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		return d.boolean(n, "value")
	case "!!int", "!!float":
		return d.float(n, "value")
	}
	return d.expand(n, n.Value)
}
