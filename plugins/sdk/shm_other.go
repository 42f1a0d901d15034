//go:build !linux

package sdk

import (
	"errors"

	"github.com/vistudy/vistudy/arrowio"
	pb "github.com/vistudy/vistudy/plugins/proto"
)

// sharedView is Linux's mapping of the host's batch file; elsewhere batches come over the socket.
type sharedView struct{}

func openSharedView() *sharedView { return nil }

func (*sharedView) images(*pb.SharedBatch) (*arrowio.TensorArray, func(), error) {
	return nil, nil, errors.New("shared batch: no shared memory on this platform")
}
