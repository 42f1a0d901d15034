package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// applyOverride sets the dotted key path o.Key (list items by index) to o.Value parsed as YAML,
// creating mapping keys that are absent.
func applyOverride(d *decoder, root *yaml.Node, o Override) error {
	var val yaml.Node
	if err := yaml.Unmarshal([]byte(o.Value), &val); err != nil {
		return fmt.Errorf("override %s=%q is not a YAML value: %w", o.Key, o.Value, err)
	}
	newNode := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	if len(val.Content) > 0 {
		newNode = val.Content[0]
	}
	markOverride(d, newNode, o.Source)
	parts := strings.Split(o.Key, ".")
	cur := root
	for i, p := range parts {
		last := i == len(parts)-1
		switch cur.Kind {
		case yaml.MappingNode:
			found := false
			for j := 0; j+1 < len(cur.Content); j += 2 {
				if cur.Content[j].Value == p {
					if last {
						cur.Content[j+1] = newNode
					} else {
						cur = cur.Content[j+1]
					}
					found = true
					break
				}
			}
			if !found {
				k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}
				markOverride(d, k, o.Source)
				next := newNode
				if !last {
					next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				}
				cur.Content = append(cur.Content, k, next)
				cur = next
			}
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(p)
			if err != nil || idx < 0 || idx >= len(cur.Content) {
				return fmt.Errorf("override %s: %q is not an index of a list of %d items", o.Key, p, len(cur.Content))
			}
			if last {
				cur.Content[idx] = newNode
			} else {
				cur = cur.Content[idx]
			}
		default:
			return fmt.Errorf("override %s: %s is not a mapping or list", o.Key, strings.Join(parts[:i], "."))
		}
	}
	return nil
}

func markOverride(d *decoder, n *yaml.Node, src string) {
	d.overrides[n] = src
	for _, c := range n.Content {
		markOverride(d, c, src)
	}
}

// LeafKeys lists the dotted key paths of every scalar and list in a study file, plus the
// top-level settings that may be set without appearing in it: the keys an environment
// variable VISTUDY_<KEY> (dots as underscores, upper case) can override.
func LeafKeys(data []byte) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	keys := overridableKeys()
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], join(prefix, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			if prefix != keyStages {
				break
			}
			for i, c := range n.Content {
				walk(c, join(prefix, strconv.Itoa(i)))
			}
			return
		}
		if n.Kind != yaml.MappingNode && prefix != "" && !seen[prefix] {
			seen[prefix] = true
			keys = append(keys, prefix)
		}
	}
	if len(doc.Content) > 0 {
		walk(doc.Content[0], "")
	}
	return keys, nil
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}
