package pipeline

import (
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
		IntraThreads: m.Runtime.Threads, Streams: m.Streams(), Chunk: m.Runtime.Chunk, Providers: m.Runtime.Providers,
		ProviderFallback: m.Runtime.Fallback, DeviceID: m.Runtime.DeviceID, Padding: m.Padding,
	}
}

// Streams is how many batches of one stage the model's runtime is sent at once: runtime.streams,
// else 1. With the runtime's chunks, two streams are 2 % faster on 2 cores (the next batch's
// chunks fill the thread a batch's last chunk leaves idle) but hold another batch in flight and
// make the peak memory of a long run less steady (bench/README.md, Chunks and threads).
func (m *Model) Streams() int { return max(1, m.Runtime.Streams) }

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
