package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// MaxRestarts is how often one call restarts a crashed plugin before giving up.
const MaxRestarts = 3

// logger is the host's logger for plugin processes (stderr, level from VISTUDY_PLUGIN_LOG).
var logger = hclog.New(&hclog.LoggerOptions{
	Name: "plugin", Output: os.Stderr,
	Level: hclog.LevelFromString(envOr("VISTUDY_PLUGIN_LOG", "warn")),
})

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// process is one running plugin binary.
type process struct {
	entry  *Entry
	client *plugin.Client
	conn   *sdk.Conn
}

// launch starts the plugin binary of e and dispenses its kind.
func launch(e *Entry) (*process, error) {
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.ClientPlugins(),
		Cmd:              exec.Command(e.Path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger.Named(e.Info.Name),
		GRPCDialOptions:  []grpc.DialOption{grpc.WithDefaultCallOptions(sdk.CallOptions()...)},
		StartTimeout:     30 * time.Second,
	}
	if e.Pinned {
		sum, _ := hex.DecodeString(e.SHA256)
		cfg.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	client := plugin.NewClient(cfg)
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugins: start %s: %w", e.Path, err)
	}
	raw, err := rpc.Dispense(string(e.Kind))
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugins: %s does not serve a %s plugin: %w", e.Path, e.Kind, err)
	}
	return &process{entry: e, client: client, conn: raw.(*sdk.Conn)}, nil
}

func (p *process) kill() { p.client.Kill() }

// pid is the operating-system process id of the plugin.
func (p *process) pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// info asks the plugin for its Info through its kind's service.
func (p *process) info(ctx context.Context) (*pb.PluginInfo, error) {
	var (
		info *pb.PluginInfo
		err  error
	)
	switch p.entry.Kind {
	case sdk.KindMetric:
		info, err = pb.NewMetricClient(p.conn.Conn).Info(ctx, &pb.Empty{})
	case sdk.KindPerturbation:
		info, err = pb.NewPerturbationClient(p.conn.Conn).Info(ctx, &pb.Empty{})
	case sdk.KindRuntime:
		info, err = pb.NewRuntimeClient(p.conn.Conn).Info(ctx, &pb.Empty{})
	}
	if err != nil {
		return nil, fmt.Errorf("plugins: %s: info: %w", p.entry.Path, err)
	}
	return info, nil
}

// supervised keeps one plugin process alive across crashes.
type supervised struct {
	entry *Entry
	// replay brings a fresh process back to the state the calls expect (load a model, serve the oracle).
	replay func(ctx context.Context, p *process) error

	mu       sync.Mutex
	proc     *process
	restarts int
}

func newSupervised(e *Entry, replay func(context.Context, *process) error) (*supervised, error) {
	p, err := launch(e)
	if err != nil {
		return nil, err
	}
	return &supervised{entry: e, proc: p, replay: replay}, nil
}

// current returns the live process.
func (s *supervised) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// Restarts is how many times the process was restarted after a crash.
func (s *supervised) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Close kills the process.
func (s *supervised) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// do runs fn against the process; when the process died during the call it is restarted,
// its state replayed and fn retried, up to MaxRestarts times.
func (s *supervised) do(ctx context.Context, what string, fn func(*process) error) error {
	for attempt := 0; ; attempt++ {
		p := s.current()
		if p == nil {
			return fmt.Errorf("plugins: %s: %s: plugin is closed", s.entry.Info.Name, what)
		}
		err := fn(p)
		if err == nil || ctx.Err() != nil || !crashed(p, err) {
			return err
		}
		if attempt >= MaxRestarts {
			return fmt.Errorf("plugins: %s: %s: the plugin crashed %d times: %w", s.entry.Info.Name, what, attempt+1, err)
		}
		logger.Warn("plugin process died; restarting and retrying", "plugin", s.entry.Info.Name, "call", what, "error", err)
		if rerr := s.restart(ctx, p); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
}

// restart replaces the dead process old (unless another caller already did).
func (s *supervised) restart(ctx context.Context, old *process) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != old {
		return nil
	}
	old.kill()
	p, err := launch(s.entry)
	if err != nil {
		return err
	}
	if s.replay != nil {
		if err := s.replay(ctx, p); err != nil {
			p.kill()
			return fmt.Errorf("plugins: %s: restore after restart: %w", s.entry.Info.Name, err)
		}
	}
	s.proc = p
	s.restarts++
	return nil
}

// crashed tells whether err came from the plugin process dying rather than from the request.
func crashed(p *process, err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled, codes.Internal, codes.Unknown:
	default:
		return false
	}
	// The process may take a moment to be reaped after its connection broke.
	for i := 0; i < 50; i++ {
		if p.client.Exited() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return status.Code(err) == codes.Unavailable
}
