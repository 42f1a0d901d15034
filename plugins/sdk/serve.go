package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/vistudy/vistudy/arrowio"
)

// Kind is a plugin kind: runtime, perturbation or metric.
type Kind string

// The plugin kinds; a plugin binary is named vistudy-<kind>-<name>.
const (
	KindRuntime      Kind = "runtime"
	KindPerturbation Kind = "perturbation"
	KindMetric       Kind = "metric"
)

// MaxMessageBytes lifts gRPC's 4 MiB default on every server and client of the protocol.
const MaxMessageBytes = 1 << 30

// Handshake is the go-plugin handshake; its protocol version is the Arrow schema version.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  arrowio.SchemaVersion,
	MagicCookieKey:   "VISTUDY_PLUGIN",
	MagicCookieValue: "d5f4b0c8-vistudy-plugin",
}

// ServerOptions are the gRPC options every vistudy gRPC server is started with.
func ServerOptions(opts []grpc.ServerOption) []grpc.ServerOption {
	return append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))
}

// CallOptions are the per-call options that lift the message limits on a client.
func CallOptions() []grpc.CallOption {
	return []grpc.CallOption{grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)}
}

// newServer builds a gRPC server with the lifted message limits.
func newServer(opts []grpc.ServerOption) *grpc.Server { return grpc.NewServer(ServerOptions(opts)...) }

// grpcPlugin adapts one registration function to go-plugin's GRPCPlugin.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	register func(*plugin.GRPCBroker, *grpc.Server)
}

// GRPCServer implements plugin.GRPCPlugin.
func (p *grpcPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	p.register(b, s)
	return nil
}

// GRPCClient implements plugin.GRPCPlugin; the client side is the host's (plugins/host).
func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: a plugin serves; the host's client side is in plugins/host")
}

// serve runs the plugin process's gRPC server until the host kills it.
func serve(kind Kind, register func(*plugin.GRPCBroker, *grpc.Server)) {
	watchParent(500*time.Millisecond, func() { os.Exit(3) })
	if stop := startProfile(kind); stop != nil {
		defer stop()
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{string(kind): &grpcPlugin{register: register}},
		GRPCServer:      newServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Level: hclog.LevelFromString(envOr("VISTUDY_PLUGIN_LOG", "warn")), Output: os.Stderr, JSONFormat: true,
		}),
	})
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// ErrUnmappable is a shared-memory file this process cannot map (an address-space limit, say):
// the runtime answers codes.FailedPrecondition, and the host sends such batches another way.
var ErrUnmappable = errors.New("the shared memory cannot be mapped here")

// EnvSharedMemFD names the environment variable through which the host tells a runtime plugin
// the descriptors (comma-separated) of the shared-memory files its image batches arrive in
// (InferRequest.shared, SharedBatch.file indexes them).
const EnvSharedMemFD = "VISTUDY_SHM_FD"

// EnvSharedMem set to "off" makes the host send image batches over the socket (Arrow IPC in
// gRPC) instead of through shared memory: bench/ compares the two.
const EnvSharedMem = "VISTUDY_SHM"

// EnvCPUProfile names the environment variable that makes every plugin process write a CPU
// profile to <value>.<kind>.<pid> (for go tool pprof; bench/README.md shows its use).
const EnvCPUProfile = "VISTUDY_PLUGIN_CPUPROFILE"

// startProfile starts the CPU profile EnvCPUProfile asks for and returns what stops it (nil: none).
// The host ends a plugin through go-plugin's graceful shutdown, after which Serve returns.
func startProfile(kind Kind) func() {
	p := os.Getenv(EnvCPUProfile)
	if p == "" {
		return nil
	}
	f, err := os.Create(fmt.Sprintf("%s.%s.%d", p, kind, os.Getpid()))
	if err != nil {
		return nil
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
