//go:build !linux

package sdk

import (
	"errors"

	"github.com/vistudy/vistudy/arrowio"
	pb "github.com/vistudy/vistudy/plugins/proto"
)

// sharedViews are Linux's mappings of the host's batch files; elsewhere batches come over the socket.
type sharedViews []struct{}

func openSharedViews() sharedViews { return nil }

func (sharedViews) images(*pb.SharedBatch) (*arrowio.TensorArray, func(), error) {
	return nil, nil, errors.New("shared batch: no shared memory on this platform")
}
