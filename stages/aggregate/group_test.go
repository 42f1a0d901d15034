package aggregate

import (
	"strings"
	"testing"

	"github.com/vistudy/vistudy/plugins/params"
)

func TestFunctionsRegistered(t *testing.T) {
	for _, name := range []string{"spectralbias", "criticalband", "solarization"} {
		f, ok := Lookup(name)
		if !ok || f.Run == nil || f.Description == "" || len(f.Params) == 0 {
			t.Errorf("%s: registered %v, incomplete %+v", name, ok, f)
		}
	}
}

func TestCheckNamesInputs(t *testing.T) {
	cases := []struct {
		fn     string
		raw    map[string]any
		inputs []string
		bad    string // "" when the check passes, else a fragment of the error
	}{
		{"spectralbias", map[string]any{"clean": "acc", "lowpass": "lp", "highpass": "hp"}, []string{"acc", "lp", "hp"}, ""},
		{"spectralbias", map[string]any{"clean": "acc", "lowpass": "lpp", "highpass": "hp"}, []string{"acc", "lp", "hp"}, `lowpass: stage "lpp"`},
		{"criticalband", map[string]any{"noisy": "cb"}, []string{"cb"}, ""},
		{"criticalband", map[string]any{"noisy": "cb", "clean": "x"}, []string{"cb"}, `clean: stage "x"`},
		{"solarization", map[string]any{"sweep": "sol", "clean": "acc"}, []string{"acc", "sol"}, ""},
		{"solarization", map[string]any{"sweep": "so1"}, []string{"acc", "sol"}, `sweep: stage "so1"`},
	}
	for _, c := range cases {
		f, _ := Lookup(c.fn)
		p, errs := params.Check(f.Params, c.raw)
		if len(errs) > 0 {
			t.Fatalf("%s %v: %v", c.fn, c.raw, errs)
		}
		err := f.Check(p, c.inputs)
		if c.bad == "" && err != nil || c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)) {
			t.Errorf("%s %v with inputs %v: error %v, want %q", c.fn, c.raw, c.inputs, err, c.bad)
		}
	}
}
