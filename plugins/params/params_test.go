package params

import (
	"reflect"
	"strings"
	"testing"

	pb "github.com/vistudy/vistudy/plugins/proto"
)

var specs = []Spec{
	{Name: "threshold", Type: Float, Required: true, Min: Bound(0), Max: Bound(1)},
	{Name: "topk", Type: IntList, Default: []int{1, 5}, Min: Bound(1), MinLen: 1, MaxLen: 3},
	{Name: "init", Type: String, Default: "kaiming", Choices: []string{"kaiming", "zeros"}},
	{Name: "save", Type: Bool},
	{Name: "file", Type: Path},
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]any
		want Values
		errs []string
	}{
		{"defaults", map[string]any{"threshold": 0.5},
			Values{"threshold": 0.5, "topk": []any{1.0, 5.0}, "init": "kaiming"}, nil},
		{"all given", map[string]any{"threshold": 1.0, "topk": []any{3.0}, "init": "zeros", "save": true, "file": "a.json"},
			Values{"threshold": 1.0, "topk": []any{3.0}, "init": "zeros", "save": true, "file": "a.json"}, nil},
		{"scalar for a list", map[string]any{"threshold": 0.0, "topk": 2.0},
			Values{"threshold": 0.0, "topk": []any{2.0}, "init": "kaiming"}, nil},
		{"missing required", map[string]any{}, nil, []string{`parameter "threshold": is required (a float)`}},
		{"out of range", map[string]any{"threshold": 1.5}, nil, []string{`parameter "threshold": 1.5 is above the maximum 1`}},
		{"wrong type", map[string]any{"threshold": "half"}, nil, []string{`parameter "threshold": want a number (float), got the string "half"`}},
		{"not an integer", map[string]any{"threshold": 0.1, "topk": []any{1.5}}, nil, []string{`parameter "topk": element 0: want an integer, got 1.5`}},
		{"below min in list", map[string]any{"threshold": 0.1, "topk": []any{0.0}}, nil, []string{`parameter "topk": element 0: 0 is below the minimum 1`}},
		{"empty list", map[string]any{"threshold": 0.1, "topk": []any{}}, nil, []string{`parameter "topk": has 0 elements, want at least 1`}},
		{"long list", map[string]any{"threshold": 0.1, "topk": []any{1.0, 2.0, 3.0, 4.0}}, nil, []string{`parameter "topk": has 4 elements, want at most 3`}},
		{"bad choice", map[string]any{"threshold": 0.1, "init": "ones"}, nil, []string{`parameter "init": "ones" is not one of kaiming, zeros`}},
		{"bool", map[string]any{"threshold": 0.1, "save": "yes"}, nil, []string{`parameter "save": want true or false, got the string "yes"`}},
		{"unknown", map[string]any{"threshold": 0.1, "treshold": 0.2}, nil, []string{`parameter "treshold": is not a parameter of this plugin (it takes: threshold, topk, init, save, file)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, errs := Check(specs, c.raw)
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			if !reflect.DeepEqual(msgs, c.errs) {
				t.Fatalf("errors %q, want %q", msgs, c.errs)
			}
			if c.errs == nil && !reflect.DeepEqual(got, c.want) {
				t.Errorf("values %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestJSONRoundTripAndGetters(t *testing.T) {
	v, errs := Check(specs, map[string]any{"threshold": 0.25, "topk": []any{1.0, 3.0}, "save": true, "file": "m.json"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	js := v.JSON()
	if js != `{"file":"m.json","init":"kaiming","save":true,"threshold":0.25,"topk":[1,3]}` {
		t.Errorf("JSON %s (keys must be sorted for stable instance parameters)", js)
	}
	back, err := Parse(specs, js)
	if err != nil || !reflect.DeepEqual(back, v) {
		t.Fatalf("Parse(JSON) = %v, %v", back, err)
	}
	if back.Float("threshold") != 0.25 || !reflect.DeepEqual(back.Ints("topk"), []int{1, 3}) || back.String("init") != "kaiming" ||
		!back.Bool("save") || back.String("file") != "m.json" || back.Has("missing") {
		t.Errorf("getters disagree with %v", back)
	}
	if _, err := Parse(specs, `{"threshold": 2}`); err == nil || !strings.Contains(err.Error(), "above the maximum") {
		t.Errorf("Parse of a bad value: %v", err)
	}
}

func TestProtoRoundTrip(t *testing.T) {
	for _, s := range specs {
		back, err := FromProto(s.ToProto())
		if err != nil {
			t.Fatal(err)
		}
		want := s
		want.Default = normalise(s.Default)
		if !reflect.DeepEqual(back, want) {
			t.Errorf("%s: %+v, want %+v", s.Name, back, want)
		}
	}
	if _, err := FromProto(&pb.Param{Name: "x", Type: "int_list", MinLen: 3, MaxLen: 2}); err == nil {
		t.Error("list length bounds [3, 2] accepted")
	}
	if _, err := FromProto(&pb.Param{Name: "x", Type: "complex"}); err == nil {
		t.Error("unknown type accepted")
	}
	if _, err := CheckValue(specs, "threshold", "x"); err == nil {
		t.Error("a sweep value of the wrong type accepted")
	}
}
