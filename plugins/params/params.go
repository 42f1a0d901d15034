// Package params is the parameter schema plugins declare and the validation both sides apply:
// the host before a study runs, the plugin on every call.
package params

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	pb "github.com/vistudy/vistudy/plugins/proto"
)

// Type is a parameter's value type.
type Type string

// The parameter types.
const (
	Float      Type = "float"
	Int        Type = "int"
	Bool       Type = "bool"
	String     Type = "string"
	Path       Type = "path" // a string the host resolves relative to the study file
	FloatList  Type = "float_list"
	IntList    Type = "int_list"
	StringList Type = "string_list"
)

// Spec declares one parameter.
type Spec struct {
	Name        string
	Type        Type
	Description string
	Required    bool
	Default     any // nil: no default
	Choices     []string
	Min, Max    *float64 // bounds of a number, or of each element of a number list
	// MinLen and MaxLen bound a list's length (0: no bound). A parameter that sizes memory
	// (bins, a list of k) declares a maximum, so a typo cannot exhaust memory.
	MinLen, MaxLen int
	// Groups are sweep shorthands of a string parameter: a swept value that names a group stands
	// for the group's values (a corruption's name: all is the 15 of ImageNet-C).
	Groups map[string][]string
}

// Bound returns a pointer to v, for Spec.Min and Spec.Max.
func Bound(v float64) *float64 { return &v }

// Scalar reports whether t holds a single value (and so can be swept with a list).
func (t Type) Scalar() bool { return !strings.HasSuffix(string(t), "_list") }

// elem is the element type of a list type, or t itself.
func (t Type) elem() Type {
	if t.Scalar() {
		return t
	}
	return Type(strings.TrimSuffix(string(t), "_list"))
}

// ToProto converts a spec to its wire form.
func (s Spec) ToProto() *pb.Param {
	p := &pb.Param{Name: s.Name, Type: string(s.Type), Description: s.Description, Required: s.Required,
		Choices: s.Choices, Min: s.Min, Max: s.Max, MinLen: int32(s.MinLen), MaxLen: int32(s.MaxLen)}
	for g, names := range s.Groups {
		if p.Groups == nil {
			p.Groups = map[string]*pb.Names{}
		}
		p.Groups[g] = &pb.Names{Names: names}
	}
	if s.Default != nil {
		b, _ := json.Marshal(s.Default)
		p.DefaultJson = string(b)
	}
	return p
}

// FromProto converts a wire parameter to a spec.
func FromProto(p *pb.Param) (Spec, error) {
	s := Spec{Name: p.Name, Type: Type(p.Type), Description: p.Description, Required: p.Required,
		Choices: p.Choices, Min: p.Min, Max: p.Max, MinLen: int(p.MinLen), MaxLen: int(p.MaxLen)}
	for g, names := range p.Groups {
		if s.Groups == nil {
			s.Groups = map[string][]string{}
		}
		s.Groups[g] = names.GetNames()
	}
	switch s.Type {
	case Float, Int, Bool, String, Path, FloatList, IntList, StringList:
	default:
		return s, fmt.Errorf("params: parameter %q has unknown type %q", p.Name, p.Type)
	}
	if s.MinLen < 0 || s.MaxLen < 0 || (s.MaxLen > 0 && s.MinLen > s.MaxLen) {
		return s, fmt.Errorf("params: parameter %q has list length bounds [%d, %d]", p.Name, s.MinLen, s.MaxLen)
	}
	if p.DefaultJson != "" {
		if err := json.Unmarshal([]byte(p.DefaultJson), &s.Default); err != nil {
			return s, fmt.Errorf("params: parameter %q default %q: %w", p.Name, p.DefaultJson, err)
		}
	}
	return s, nil
}

// ExpandGroups replaces every element of a swept parameter's list that names one of the
// parameter's groups by the group's values.
func ExpandGroups(specs []Spec, name string, list []any) []any {
	sp, ok := Lookup(specs, name)
	if !ok || len(sp.Groups) == 0 {
		return list
	}
	var out []any
	for _, v := range list {
		if g, ok := v.(string); ok {
			if names, isGroup := sp.Groups[g]; isGroup {
				for _, n := range names {
					out = append(out, n)
				}
				continue
			}
		}
		out = append(out, v)
	}
	return out
}

// Error is a problem with one parameter.
type Error struct {
	Name string // parameter name ("" for the set as a whole)
	Msg  string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Name == "" {
		return e.Msg
	}
	return fmt.Sprintf("parameter %q: %s", e.Name, e.Msg)
}

// Values are validated parameters with defaults applied; keys are parameter names.
type Values map[string]any

// Check validates raw against specs and returns the values with defaults applied.
// Every problem is returned, each as an *Error.
func Check(specs []Spec, raw map[string]any) (Values, []error) {
	var errs []error
	out := Values{}
	known := map[string]bool{}
	for _, s := range specs {
		known[s.Name] = true
		v, ok := raw[s.Name]
		if !ok || v == nil {
			if s.Required {
				errs = append(errs, &Error{s.Name, fmt.Sprintf("is required (%s)", describe(s))})
			} else if s.Default != nil {
				out[s.Name] = normalise(s.Default)
			}
			continue
		}
		nv, err := coerce(s, v)
		if err != nil {
			errs = append(errs, &Error{s.Name, err.Error()})
			continue
		}
		out[s.Name] = nv
	}
	var unknown []string
	for k := range raw {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		names := make([]string, len(specs))
		for i, s := range specs {
			names[i] = s.Name
		}
		errs = append(errs, &Error{k, fmt.Sprintf("is not a parameter of this plugin (it takes: %s)", strings.Join(names, ", "))})
	}
	return out, errs
}

// CheckValue validates one value against the spec of name, e.g. one element of a sweep.
func CheckValue(specs []Spec, name string, v any) (any, error) {
	for _, s := range specs {
		if s.Name == name {
			return coerce(s, v)
		}
	}
	return nil, &Error{name, "is not a parameter of this plugin"}
}

// Lookup returns the spec of name.
func Lookup(specs []Spec, name string) (Spec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

func describe(s Spec) string {
	d := "a " + string(s.Type)
	if len(s.Choices) > 0 {
		d += " one of " + strings.Join(s.Choices, ", ")
	}
	return d
}

// normalise turns Go-typed defaults (e.g. []int) into the JSON-shaped values Check produces.
func normalise(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// coerce checks v against s and returns it in canonical form (float64, int64 as float64, bool, string, []any).
func coerce(s Spec, v any) (any, error) {
	v = normalise(v)
	if s.Type.Scalar() {
		return coerceScalar(s, s.Type, v)
	}
	list, ok := v.([]any)
	if !ok {
		// A single value where a list is expected is a one-element list.
		list = []any{v}
	}
	if len(list) < s.MinLen {
		return nil, fmt.Errorf("has %d elements, want at least %d", len(list), s.MinLen)
	}
	if s.MaxLen > 0 && len(list) > s.MaxLen {
		return nil, fmt.Errorf("has %d elements, want at most %d", len(list), s.MaxLen)
	}
	out := make([]any, len(list))
	for i, e := range list {
		c, err := coerceScalar(s, s.Type.elem(), e)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = c
	}
	return out, nil
}

func coerceScalar(s Spec, t Type, v any) (any, error) {
	switch t {
	case Float, Int:
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("want a number (%s), got %s", t, show(v))
		}
		if t == Int && f != math.Trunc(f) {
			return nil, fmt.Errorf("want an integer, got %v", f)
		}
		if s.Min != nil && f < *s.Min {
			return nil, fmt.Errorf("%v is below the minimum %v", f, *s.Min)
		}
		if s.Max != nil && f > *s.Max {
			return nil, fmt.Errorf("%v is above the maximum %v", f, *s.Max)
		}
		return f, nil
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want true or false, got %s", show(v))
		}
		return b, nil
	case String, Path:
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %s", show(v))
		}
		if len(s.Choices) > 0 && !slices.Contains(s.Choices, str) {
			return nil, fmt.Errorf("%q is not one of %s", str, strings.Join(s.Choices, ", "))
		}
		return str, nil
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

// JSON encodes the values canonically (sorted keys).
func (v Values) JSON() string {
	b, _ := json.Marshal(map[string]any(v)) // encoding/json sorts map keys
	return string(b)
}

// Parse decodes JSON values and checks them against specs.
func Parse(specs []Spec, data string) (Values, error) {
	raw := map[string]any{}
	if data != "" {
		if err := json.Unmarshal([]byte(data), &raw); err != nil {
			return nil, fmt.Errorf("params: decode %q: %w", data, err)
		}
	}
	v, errs := Check(specs, raw)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("params: %s", strings.Join(msgs, "; "))
	}
	return v, nil
}

// Has reports whether name has a value.
func (v Values) Has(name string) bool { _, ok := v[name]; return ok }

// Float returns a float or int parameter (0 when unset).
func (v Values) Float(name string) float64 { f, _ := v[name].(float64); return f }

// Int returns an int parameter (0 when unset).
func (v Values) Int(name string) int { f, _ := v[name].(float64); return int(f) }

// Bool returns a bool parameter (false when unset).
func (v Values) Bool(name string) bool { b, _ := v[name].(bool); return b }

// String returns a string or path parameter ("" when unset).
func (v Values) String(name string) string { s, _ := v[name].(string); return s }

// Floats returns a float_list parameter.
func (v Values) Floats(name string) []float64 {
	l, _ := v[name].([]any)
	out := make([]float64, 0, len(l))
	for _, e := range l {
		f, _ := e.(float64)
		out = append(out, f)
	}
	return out
}

// Ints returns an int_list parameter.
func (v Values) Ints(name string) []int {
	fs := v.Floats(name)
	out := make([]int, len(fs))
	for i, f := range fs {
		out[i] = int(f)
	}
	return out
}

// Strings returns a string_list parameter.
func (v Values) Strings(name string) []string {
	l, _ := v[name].([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
