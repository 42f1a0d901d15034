package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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

// Timeouts bound how long the host waits on one plugin call.
type Timeouts struct {
	Check  time.Duration // how often a call in progress checks the plugin's health (and warns that it waits)
	Ping   time.Duration // how long one health check may take
	Call   time.Duration // a call's deadline, before scaling by the bytes it sends
	PerMiB time.Duration // added to Call per MiB of request
}

// DefaultTimeouts are generous: a plugin that answers health checks is only cut off after two
// hours (plus ten seconds per MiB sent: an attack on a large batch may take long); a stopped or
// deadlocked one within Check+Ping. VISTUDY_PLUGIN_TIMEOUT (a Go duration) replaces Call.
var DefaultTimeouts = Timeouts{Check: 15 * time.Second, Ping: 10 * time.Second, Call: 2 * time.Hour, PerMiB: 10 * time.Second}

// firstWarning is how long a call runs before the host warns that it still waits; the next
// warnings come each time the wait doubles.
const firstWarning = time.Minute

var timeouts atomic.Pointer[Timeouts]

func init() {
	t := DefaultTimeouts
	if v := os.Getenv("VISTUDY_PLUGIN_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			t.Call = d
		}
	}
	timeouts.Store(&t)
}

// SetTimeouts replaces the timeouts of calls started from now on (zero fields keep their value).
func SetTimeouts(t Timeouts) {
	cur := *timeouts.Load()
	for _, f := range []struct{ dst, src *time.Duration }{{&cur.Check, &t.Check}, {&cur.Ping, &t.Ping}, {&cur.Call, &t.Call}, {&cur.PerMiB, &t.PerMiB}} {
		if *f.src > 0 {
			*f.dst = *f.src
		}
	}
	timeouts.Store(&cur)
}

// CurrentTimeouts returns the timeouts in force.
func CurrentTimeouts() Timeouts { return *timeouts.Load() }

// process is one running plugin binary.
type process struct {
	entry  *Entry
	client *plugin.Client
	conn   *conn
	shm    *sharedPool // runtimes: the memory files image batches go through (nil: over the socket)
	arena  int         // runtimes: the index of SharedArena among the files passed (-1: not passed)

	noArena, noShm atomic.Bool // the runtime could not map the arena, or any shared file: batches go another way

	done     chan struct{} // closed by kill: releases the thread that started the process
	killOnce sync.Once
	hung     atomic.Bool // the host killed the process because it stopped answering
}

// launch starts the plugin binary of e (exactly the bytes with digest e.SHA256) and dispenses
// its kind. The process is killed when the host dies (parent-death signal).
func launch(e *Entry) (*process, error) {
	if e.SHA256 == "" {
		return nil, fmt.Errorf("plugins: %s: no checked digest to run it under", e.Path)
	}
	cmd, img, err := verifiedCommand(e.Path, e.SHA256)
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	cmd.Env = append(cmd.Env, sdk.EnvBinary+"="+e.Path)
	var shm *sharedPool
	arenaFile := -1
	if e.Kind == sdk.KindRuntime && os.Getenv(sdk.EnvSharedMem) != "off" {
		if shm, err = newSharedPool(sharedFiles); err != nil {
			logger.Warn("image batches go over the socket", "plugin", e.Info.Name, "error", err)
		}
		if shm != nil {
			fds := make([]string, 0, sharedFiles)
			for _, f := range shm.osFiles() {
				cmd.ExtraFiles = append(cmd.ExtraFiles, f)
				fds = append(fds, strconv.Itoa(2+len(cmd.ExtraFiles))) // the child's descriptor 3 + index
			}
			if a := SharedArena(); a != nil {
				arenaFile = len(fds)
				cmd.ExtraFiles = append(cmd.ExtraFiles, a.file())
				fds = append(fds, strconv.Itoa(2+len(cmd.ExtraFiles)))
			}
			cmd.Env = append(cmd.Env, sdk.EnvSharedMemFD+"="+strings.Join(fds, ","))
		}
	}
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          clientPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger.Named(e.Info.Name),
		GRPCDialOptions:  []grpc.DialOption{grpc.WithDefaultCallOptions(sdk.CallOptions()...)},
		StartTimeout:     30 * time.Second,
	}
	client := plugin.NewClient(cfg)
	p := &process{entry: e, client: client, done: make(chan struct{}), shm: shm, arena: arenaFile}
	err = startPinned(client, p.done)
	if img != nil {
		img.Close()
	}
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("plugins: start %s: %w", e.Path, err)
	}
	rpc, err := client.Client()
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("plugins: start %s: %w", e.Path, err)
	}
	raw, err := rpc.Dispense(string(e.Kind))
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("plugins: %s does not serve a %s plugin: %w", e.Path, e.Kind, err)
	}
	p.conn = raw.(*conn)
	return p, nil
}

// startPinned starts the plugin from an OS thread that lives until done is closed. Linux sends
// the parent-death signal when the thread that forked the child exits, not the process, so the
// thread is locked to a goroutine that waits for the plugin's end.
func startPinned(client *plugin.Client, done <-chan struct{}) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine, after the plugin
		_, err := client.Start()
		errc <- err
		if err == nil {
			<-done
		}
	}()
	return <-errc
}

func (p *process) kill() {
	p.client.Kill()
	p.shm.close()
	p.killOnce.Do(func() { close(p.done) })
}

// hang kills a process that stopped answering; the call waiting on it then fails as a crash.
func (p *process) hang() {
	p.hung.Store(true)
	if pid := p.pid(); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// gone tells whether the process has exited (or cannot be told to run).
func (p *process) gone() bool {
	running, known := alive(p.pid())
	return known && !running
}

// pid is the operating-system process id of the plugin.
func (p *process) pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// unresponsive checks the plugin's health: "" when it answers, else why not.
func (p *process) unresponsive(ctx context.Context, timeout time.Duration) string {
	if stopped(p.pid()) {
		return "the process is stopped (SIGSTOP or a debugger)"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := healthpb.NewHealthClient(p.conn.Conn).Check(ctx, &healthpb.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil && ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no answer to a health check within %s", timeout)
	}
	return ""
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
		return nil, fmt.Errorf("plugins: %s: info: %w", p.entry.Path, Plain(err))
	}
	return info, nil
}

// supervised keeps one plugin process alive across crashes and hangs.
type supervised struct {
	entry *Entry
	// replay brings a fresh process back to the state the calls expect (load a model, serve the oracle).
	replay func(ctx context.Context, p *process) error

	mu       sync.Mutex
	proc     *process
	restarts int
}

func newSupervised(e *Entry, replay func(context.Context, *process) error) (*supervised, error) {
	p := takeSpare(e)
	if p == nil {
		var err error
		if p, err = launch(e); err != nil {
			return nil, err
		}
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

// do runs fn against the process; see doSized.
func (s *supervised) do(ctx context.Context, what string, fn func(*process) error) error {
	return s.doSized(ctx, what, 0, fn)
}

// doSized runs fn, a call sending about size bytes, against the process. While it runs the
// plugin's health is checked every Timeouts.Check; a plugin that stops answering, or overruns the
// call's deadline, is killed. When the process died or was killed during the call it is
// restarted, its state replayed and fn retried, up to MaxRestarts times. Errors carry the
// plugin's own message, not gRPC's status text.
func (s *supervised) doSized(ctx context.Context, what string, size int, fn func(*process) error) error {
	for attempt := 0; ; attempt++ {
		p := s.current()
		if p == nil {
			return fmt.Errorf("plugin %s: %s: the plugin is closed", s.entry.Info.Name, what)
		}
		err := s.watch(ctx, p, what, size, fn)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !crashed(p, err) {
			return Plain(err)
		}
		if attempt >= MaxRestarts {
			return fmt.Errorf("plugin %s: %s: the plugin died %d times (last: %w)", s.entry.Info.Name, what, attempt+1, Plain(err))
		}
		logger.Warn("plugin process died; restarting and retrying", "plugin", s.entry.Info.Name, "call", what, "error", Plain(err))
		if rerr := s.restart(ctx, p); rerr != nil {
			return errors.Join(Plain(err), rerr)
		}
	}
}

// watch runs fn(p), checking on the plugin while it waits.
func (s *supervised) watch(ctx context.Context, p *process, what string, size int, fn func(*process) error) error {
	t := CurrentTimeouts()
	deadline := t.Call + time.Duration(size>>20)*t.PerMiB
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- fn(p) }()
	tick := time.NewTicker(t.Check)
	defer tick.Stop()
	warnAt := firstWarning
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			if p.hung.Load() {
				continue // killed: fn fails any moment
			}
			waited := time.Since(start).Round(time.Millisecond)
			if why := p.unresponsive(ctx, t.Ping); why != "" {
				logger.Warn("plugin does not answer; killing it to restart and retry", "plugin", s.entry.Info.Name, "call", what, "waited", waited, "why", why)
				p.hang()
			} else if waited > deadline {
				logger.Warn("plugin call overran its deadline; killing it to restart and retry", "plugin", s.entry.Info.Name, "call", what, "waited", waited, "deadline", deadline)
				p.hang()
			} else if waited >= warnAt {
				warnAt *= 2
				logger.Warn("still waiting for the plugin (it answers health checks)", "plugin", s.entry.Info.Name, "call", what, "waited", waited, "deadline", deadline)
			}
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
			return fmt.Errorf("plugin %s: restore after restart: %w", s.entry.Info.Name, err)
		}
	}
	s.proc = p
	s.restarts++
	return nil
}

// crashed tells whether err came from the plugin process dying (or being killed as hung)
// rather than from the request. A live process with a working connection is asked nothing
// more: its error is the request's.
func crashed(p *process, err error) bool {
	if p.hung.Load() {
		return true
	}
	code := status.Code(err)
	switch code {
	case codes.Unavailable, codes.Canceled, codes.Internal, codes.Unknown:
	default:
		return false
	}
	running, known := alive(p.pid())
	if known && !running {
		return true
	}
	if known && p.conn.Conn.GetState() == connectivity.Ready && code != codes.Unavailable {
		return false
	}
	// The connection broke: the process may take a moment to be reaped.
	for i := 0; i < 50; i++ {
		if p.client.Exited() {
			return true
		}
		if running, known := alive(p.pid()); known && !running {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return code == codes.Unavailable
}

// Plain turns a gRPC status error into an error carrying only the status message (the
// plugin's own words); other errors pass unchanged.
func Plain(err error) error {
	if err == nil {
		return nil
	}
	var ce *CallError
	if errors.As(err, &ce) {
		return err
	}
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return err
	}
	st := se.GRPCStatus()
	msg := stripStatus(st.Message())
	if outer := err.Error(); outer != se.(error).Error() { // wrapped: keep the wrapping words
		msg = strings.Replace(outer, se.(error).Error(), msg, 1)
	}
	return &CallError{Code: st.Code(), Msg: msg}
}

// statusText is gRPC's rendering of a status error, which a plugin may embed in its own message
// (an oracle error it wraps, say).
var statusText = regexp.MustCompile(`rpc error: code = [A-Za-z]+ desc = `)

// stripStatus removes embedded gRPC status text from a message.
func stripStatus(msg string) string { return statusText.ReplaceAllString(msg, "") }

// CallError is a plugin call's failure in the plugin's own words, without gRPC's status text.
type CallError struct {
	Code codes.Code // the gRPC code, for callers that tell request errors from crashes
	Msg  string
}

// Error implements error.
func (e *CallError) Error() string { return e.Msg }
