package sdk

import (
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/vistudy/vistudy/plugins/proto"
)

// ServeRuntime serves a model runtime as this process's plugin; call it from main.
func ServeRuntime(rt pb.RuntimeServer) {
	serve(KindRuntime, func(_ *plugin.GRPCBroker, s *grpc.Server) {
		pb.RegisterRuntimeServer(s, rt)
	})
}
