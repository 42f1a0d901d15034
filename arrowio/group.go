package arrowio

import (
	"fmt"
	"strings"
)

// ParseGroup splits a result group such as "band=3,sd=0.04" into its key=value pairs ("" gives none).
func ParseGroup(group string) (map[string]string, error) {
	out := map[string]string{}
	if group == "" {
		return out, nil
	}
	for _, part := range strings.Split(group, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("group %q: %q is not key=value", group, part)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("group %q: key %q appears twice", group, k)
		}
		out[k] = v
	}
	return out, nil
}

// JoinGroup joins groups (skipping empty ones) with commas: a chain's sweep values, then a metric's own.
func JoinGroup(groups ...string) string {
	var parts []string
	for _, g := range groups {
		if g != "" {
			parts = append(parts, g)
		}
	}
	return strings.Join(parts, ",")
}
