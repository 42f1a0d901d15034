package pipeline

import (
	"runtime"
	"slices"
	"sync"

	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/stages/labels"
)

// LoadSpec is what the runtime plugin is asked to load for this model.
func (m *Model) LoadSpec() sdk.LoadSpec {
	in := m.Input
	return sdk.LoadSpec{
		Path: m.Path, Name: m.Name, Output: m.Output, OutputTensor: m.OutputTensor,
		Input: sdk.InputMapping{Channels: in.Channels, Scale: in.Scale, Mean: in.Mean, Std: in.Std,
			Height: in.Height, Width: in.Width},
		IntraThreads: m.Runtime.Threads, Streams: m.Streams(), Providers: m.Runtime.Providers,
		ProviderFallback: m.Runtime.Fallback, DeviceID: m.Runtime.DeviceID, Padding: m.Padding,
	}
}

// Streams is how many batches of one stage the model's runtime is sent at once: runtime.streams,
// or by default 2 where the model runs on the CPU provider alone with threads left to the runtime
// on a machine of 2+ cores (each run then takes half the cores; bench/README.md, Threads), else 1.
func (m *Model) Streams() int {
	rt := m.Runtime
	switch {
	case rt.Streams > 0:
		return rt.Streams
	case rt.Threads == 0 && runtime.GOMAXPROCS(0) >= 2 && (len(rt.Providers) == 0 || slices.Equal(rt.Providers, []string{"cpu"})):
		return 2
	}
	return 1
}

var (
	spacesMu sync.Mutex
	spaces   = map[string]*labels.Space{}
)

// labelSpace resolves (and caches) a label space named in a study.
func labelSpace(spec, dir string) (*labels.Space, error) {
	key := spec + "\x00" + dir
	spacesMu.Lock()
	defer spacesMu.Unlock()
	if sp, ok := spaces[key]; ok {
		return sp, nil
	}
	sp, err := labels.Resolve(spec, dir)
	if err != nil {
		return nil, err
	}
	spaces[key] = sp
	return sp, nil
}
