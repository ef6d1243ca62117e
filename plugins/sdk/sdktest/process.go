package sdktest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testenv"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/plugins/host"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// EnvPluginDir names the environment variable holding a directory of
// prebuilt plugin binaries, for machines without a Go toolchain: Build
// returns <dir>/<the package's base name> instead of building.
const EnvPluginDir = testenv.PluginDir

// Build builds the plugin's main package pkg (an import path, or a
// directory such as "./cmd/myplugin", as go build takes it) and returns
// the binary's path, in a directory any user may enter (the plugin may run
// as another user), removed after the test. With $XDPCHAIN_PLUGIN_DIR set
// it builds nothing and returns the binary named after pkg's last element
// in that directory. Go's build cache makes a second build of the same
// package quick. (xdpchain's own tests, whose TestMain runs them with
// internal/testutil's fd check, build each package once per run.)
func Build(tb testing.TB, pkg string) string {
	tb.Helper()
	return testutil.PluginBinary(tb, pkg)
}

// ProcessOptions configure Start.
type ProcessOptions struct {
	// Command is the plugin binary, e.g. from Build. Required.
	Command string
	// Args are the binary's arguments.
	Args []string
	// Name is the plugin's name as the daemon's config would give it
	// (its chain entry's name). Default: the binary's base name.
	Name string
	// Interface is what the process finds in $XDPCHAIN_INTERFACE, as the
	// daemon sets it (one process per plugin per interface). Default
	// "sdktest0".
	Interface string
	// Settings is the [plugin.settings] table the first Configure sends.
	Settings map[string]any
	// User runs the process as this user (a name, a uid, or "uid:gid"):
	// its map operations then go through the harness's broker, as under a
	// daemon with `user = ...`. Default: this process's user.
	User string
	// MapAccess forces how the plugin reaches its maps. Default: auto.
	MapAccess host.MapAccess
	// Logger receives the plugin's log records (sdk.Logger, stderr,
	// go-plugin). Default: the test's log (t.Log), at debug and above.
	Logger *slog.Logger
}

// Process is a plugin process started as the daemon would start it, with
// its program loaded on maps pinned in a private bpffs.
type Process struct {
	// Plugin is the daemon's handle on the process (plugins/host): its
	// Description, ConfigureSettings, Validate, Health, Kill, ...
	Plugin *host.Plugin
	// Object is the program the plugin described, loaded standalone on
	// the pinned maps, and those maps as the test's *sdk.Maps (the same
	// kernel maps the plugin writes).
	Object *Object
	// Pins are the maps' pin paths, by name in the object, as the plugin
	// received them.
	Pins map[string]string
	// BPFFS is the private bpffs mount holding the pins; it is unmounted
	// when the test ends.
	BPFFS string

	logs *testLog
}

// Start starts the plugin binary through plugins/host (handshake, Describe,
// $XDPCHAIN_INTERFACE and the log level in its environment, as under the
// daemon), mounts a private bpffs, creates the maps of the object the
// plugin described and pins them there, loads its program on them, and
// configures the plugin with opts.Settings and those pins. The process is
// stopped, and everything released, when the test ends. It skips without
// root and fails the test on any error.
func Start(tb testing.TB, opts ProcessOptions) *Process {
	tb.Helper()
	RequireRoot(tb)
	if opts.Command == "" {
		tb.Fatal("sdktest.Start: no Command")
	}
	if opts.Name == "" {
		opts.Name = filepath.Base(opts.Command)
	}
	if opts.Interface == "" {
		opts.Interface = "sdktest0"
	}
	logs := &testLog{tb: tb, toTB: opts.Logger == nil}
	// Cleanups run last to first: the process is stopped before the test's
	// log closes and before the bpffs is unmounted.
	tb.Cleanup(logs.close)
	bpffs := testutil.PrivateBPFFS(tb)
	var handler slog.Handler = slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	if opts.Logger != nil {
		handler = teeHandler{opts.Logger.Handler(), handler}
	}
	logger := slog.New(handler)
	ctx := context.Background()
	p, err := host.Start(ctx, host.Options{
		Name:      opts.Name,
		Command:   opts.Command,
		Args:      opts.Args,
		Env:       []string{"XDPCHAIN_INTERFACE=" + opts.Interface},
		User:      opts.User,
		MapAccess: opts.MapAccess,
		Settings:  opts.Settings,
		Logger:    logger.With("interface", opts.Interface),
	})
	if err != nil {
		tb.Fatalf("starting plugin %s: %v", opts.Command, err)
	}
	tb.Cleanup(p.Kill)
	proc := &Process{Plugin: p, BPFFS: bpffs, logs: logs}
	proc.Object, proc.Pins = loadPinned(tb, p.Description(), proc.BPFFS)
	if err := p.Configure(ctx, proc.Pins); err != nil {
		tb.Fatalf("configuring plugin %s: %v", opts.Name, err)
	}
	return proc
}

// loadPinned creates the maps of d's object, pins them in dir (dots in map
// names become underscores, as in the daemon's pins) and loads d's program
// on them.
func loadPinned(tb testing.TB, d host.Description, dir string) (*Object, map[string]string) {
	tb.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(d.Object))
	if err != nil {
		tb.Fatalf("reading the object plugin %s described: %v", d.Name, err)
	}
	// The loader creates the maps (data sections mmapable, as the daemon's
	// are), then they are pinned.
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		tb.Fatalf("loading the object plugin %s described: %+v", d.Name, err)
	}
	tb.Cleanup(coll.Close)
	maps := map[string]*ebpf.Map{}
	pins := map[string]string{}
	for name, m := range coll.Maps {
		pins[name] = filepath.Join(dir, strings.NewReplacer(".", "_", "/", "_").Replace(name))
		if err := m.Pin(pins[name]); err != nil {
			tb.Fatalf("pinning map %s: %v", name, err)
		}
		maps[name] = m
	}
	prog := coll.Programs[d.ProgramName]
	if prog == nil {
		tb.Fatalf("plugin %s describes program %q, which its object does not have", d.Name, d.ProgramName)
	}
	sm, err := sdk.NewMaps(maps)
	if err != nil {
		tb.Fatalf("describing the maps: %v", err)
	}
	return &Object{Program: prog, Collection: coll, Maps: sm}, pins
}

// Run runs pkt through the plugin's program (BPF_PROG_TEST_RUN) and returns
// its verdict.
func (p *Process) Run(tb testing.TB, pkt []byte) sdk.Verdict {
	tb.Helper()
	return p.Object.Run(tb, pkt)
}

// Maps are the plugin's maps (Object.Maps).
func (p *Process) Maps() *sdk.Maps { return p.Object.Maps }

// Configure sends the plugin new settings with the same maps, as the
// daemon does when the config changes (SIGHUP). An error is the plugin's
// refusal (wrapping host.ErrConfigure) or its exit.
func (p *Process) Configure(settings map[string]any) error {
	return p.Plugin.ConfigureSettings(context.Background(), settings)
}

// Logs returns everything the plugin has logged so far, as slog text, one
// record per line.
func (p *Process) Logs() string { return p.logs.String() }

// testLog writes log lines to the test's log while the test runs, and keeps
// them all.
type testLog struct {
	tb     testing.TB
	toTB   bool
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (l *testLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	if l.toTB && !l.closed {
		l.tb.Log(strings.TrimSuffix(string(b), "\n"))
	}
	return len(b), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// teeHandler sends every record to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range []slog.Handler{t.a, t.b} {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("logging: %v", errs)
	}
	return nil
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t.a.WithGroup(name), t.b.WithGroup(name)}
}
