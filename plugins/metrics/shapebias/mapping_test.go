package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// sixteen are the Geirhos categories in sorted order, as the cue-conflict loader labels them.
var sixteen = []string{"airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock",
	"dog", "elephant", "keyboard", "knife", "oven", "truck"}

func TestEmbeddedImageNet16MatchesShared(t *testing.T) {
	cm, err := imagenet16()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cm.names, sixteen) {
		t.Fatalf("embedded categories = %v, want %v", cm.names, sixteen)
	}
	total := 0
	for _, idx := range cm.indices {
		total += len(idx)
	}
	if total != 207 {
		t.Fatalf("embedded mapping has %d indices, want 207", total)
	}

	data, err := os.ReadFile(testenv.SharedData(t, "imagenet16.json"))
	if err != nil {
		t.Fatal(err)
	}
	var shared struct {
		Categories map[string][]int `json:"categories"`
	}
	if err := json.Unmarshal(data, &shared); err != nil {
		t.Fatal(err)
	}
	embedded := map[string][]int{}
	for i, n := range cm.names {
		embedded[n] = cm.indices[i]
	}
	if !reflect.DeepEqual(embedded, shared.Categories) {
		t.Fatalf("embedded imagenet16.json differs from the shared one:\nembedded %v\nshared   %v", embedded, shared.Categories)
	}
}

// checkError fails t unless err contains want, or, with want "", unless err is nil. It reports
// whether an error was expected, so that the caller stops there.
func checkError(t *testing.T, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want one containing %q", err, want)
	}
	return true
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadMapping(t *testing.T) {
	plain := writeFile(t, "plain.json", `{"square": [2], "round": [0, 1]}`)
	wrapped := writeFile(t, "wrapped.JSON", `{"source": "test", "categories": {"square": [2], "round": [0, 1]}}`)
	want := categoryMap{names: []string{"round", "square"}, indices: [][]int{{0, 1}, {2}}}
	in16, _ := imagenet16()
	tests := []struct {
		name    string
		spec    string
		model   sdk.Model
		want    categoryMap
		wantErr string
	}{
		{"auto picks imagenet16 by label space", mappingAuto, sdk.Model{LabelSpace: "imagenet1k"}, in16, ""},
		{"auto picks imagenet16 by 1000 classes", mappingAuto, sdk.Model{NumClasses: 1000}, in16, ""},
		{"auto picks identity otherwise", mappingAuto, sdk.Model{NumClasses: 2, ClassNames: []string{"b", "a"}},
			categoryMap{names: []string{"b", "a"}, indices: [][]int{{0}, {1}}}, ""},
		{"imagenet16 for any model", mappingImageNet16, sdk.Model{NumClasses: 3}, in16, ""},
		{"plain file", plain, sdk.Model{}, want, ""},
		{"wrapped file", wrapped, sdk.Model{}, want, ""},
		{"identity without class names", mappingIdentity, sdk.Model{NumClasses: 3}, categoryMap{}, "class names"},
		{"identity with a repeated name", mappingIdentity, sdk.Model{ClassNames: []string{"a", "b", "a"}}, categoryMap{}, `two classes named "a"`},
		{"unknown word", "imagenet21", sdk.Model{}, categoryMap{}, `"imagenet21"`},
		{"missing file", filepath.Join(t.TempDir(), "absent.json"), sdk.Model{}, categoryMap{}, "absent.json"},
		{"not an object", writeFile(t, "list.json", `[1, 2]`), sdk.Model{}, categoryMap{}, "JSON object"},
		{"string indices", writeFile(t, "s.json", `{"a": ["x"]}`), sdk.Model{}, categoryMap{}, "JSON object"},
		{"empty category", writeFile(t, "e.json", `{"a": []}`), sdk.Model{}, categoryMap{}, `"a" has no model indices`},
		{"negative index", writeFile(t, "n.json", `{"a": [-1]}`), sdk.Model{}, categoryMap{}, "negative model index -1"},
		{"repeated index", writeFile(t, "r.json", `{"a": [3, 3]}`), sdk.Model{}, categoryMap{}, "index 3 twice"},
		{"no categories", writeFile(t, "z.json", `{}`), sdk.Model{}, categoryMap{}, "no categories"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadMapping(tt.spec, tt.model)
			if checkError(t, err, tt.wantErr) {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("mapping = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewPlan(t *testing.T) {
	tests := []struct {
		name        string
		model       sdk.Model
		wantDataset []int32 // per mapping category
		wantErr     string
	}{
		{"a subset of the 16", sdk.Model{NumClasses: 1000, DatasetClasses: []string{"dog", "airplane"}},
			[]int32{1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, -1, -1, -1, -1, -1}, ""},
		{"a dataset category absent from the mapping", sdk.Model{NumClasses: 1000, DatasetClasses: []string{"dog", "apple", "pear"}},
			nil, `"apple", "pear" are not in the mapping`},
		{"no dataset names", sdk.Model{NumClasses: 1000}, nil, "DatasetClasses"},
		{"too few model outputs", sdk.Model{LabelSpace: "imagenet1k", NumClasses: 500, DatasetClasses: sixteen},
			nil, "model index 671, but the model has 500 outputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := newPlan(mappingAuto, tt.model)
			if checkError(t, err, tt.wantErr) {
				return
			}
			if !reflect.DeepEqual(pl.datasetOf, tt.wantDataset) {
				t.Fatalf("datasetOf = %v, want %v", pl.datasetOf, tt.wantDataset)
			}
		})
	}
}
