package pipeline

import (
	"sync"

	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/stages/labels"
)

// LoadRequest is what the runtime plugin is asked to load for this model.
func (m *Model) LoadRequest() *pb.LoadRequest {
	in := m.Input
	return &pb.LoadRequest{
		Path: m.Path, Name: m.Name, Output: m.Output, OutputTensor: m.OutputTensor,
		Input: &pb.InputMapping{Channels: in.Channels, Scale: in.Scale, Mean: in.Mean, Std: in.Std,
			Height: int32(in.Height), Width: int32(in.Width)},
		IntraThreads: int32(m.Runtime.Threads), Providers: m.Runtime.Providers,
		ProviderFallback: m.Runtime.Fallback, DeviceId: int32(m.Runtime.DeviceID),
	}
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
