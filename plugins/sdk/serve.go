package sdk

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/xdpchain/xdpchain/plugins/internal/contract"
)

// Serve runs the plugin until the daemon stops it. It is the whole main of a
// plugin binary:
//
//	func main() { sdk.Serve(&blocklist.Plugin{}) }
//
// Started by hand instead of by the daemon, the binary prints that it is a
// plugin and exits with status 1.
//
// A plugin exits when the daemon that started it dies: its program keeps
// serving traffic, and the next daemon starts a fresh instance.
func Serve(p Plugin) {
	go watchParent(os.Getppid(), os.Getppid, parentCheckInterval, exitOrphaned)
	serve(p)
}

// ErrOrphaned is what ServeContext returns when the daemon that started the
// plugin died.
var ErrOrphaned = errors.New("the xdpchain daemon that started this plugin is gone")

// ServeContext is Serve for a plugin with work of its own to stop (a
// goroutine polling a feed, state to flush): it serves p until the daemon
// stops the plugin (it returns nil), ctx is done (it returns
// context.Cause(ctx)), or the daemon that started the plugin died
// (ErrOrphaned), and then returns instead of exiting, so that main can
// clean up and return:
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
//		defer stop()
//		p := myfilter.New()
//		go p.PollFeed(ctx)
//		err := sdk.ServeContext(ctx, p)
//		stop()    // ends PollFeed
//		p.Flush() // quickly: the daemon kills a plugin 2 s after asking it to stop
//		if err != nil {
//			sdk.Logger().Info("stopping", "reason", err)
//		}
//	}
//
// The plugin's program keeps serving traffic whatever the reason. When ctx
// ends the plugin first, the daemon sees its process exit (and applies
// on_exit) once main returns. Run by hand, the binary prints that it is a
// plugin and exits with status 1, as with Serve.
func ServeContext(ctx context.Context, p Plugin) error {
	orphaned := make(chan struct{})
	go watchParent(os.Getppid(), os.Getppid, parentCheckInterval, func() { close(orphaned) })
	served := make(chan struct{})
	go func() {
		defer close(served)
		serve(p)
	}()
	select {
	case <-served:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-orphaned:
		return ErrOrphaned
	}
}

// serve runs go-plugin's server until the daemon stops it.
func serve(p Plugin) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  contract.Handshake,
		VersionedPlugins: contract.VersionedPlugins(GRPCPlugin(p)),
		GRPCServer:       plugin.DefaultGRPCServer,
		// go-plugin's own records, in the format the daemon parses; the
		// daemon knows them by the module name go-plugin.
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Output:     logOutput,
			JSONFormat: true,
			Level:      hclogLevel(logLevel(slog.LevelInfo)),
		}),
	})
}

// logOutput is the process's stderr as it was before Serve: go-plugin
// replaces os.Stderr with a pipe of its own, but the daemon parses log
// records on the real one. Every logger of the SDK writes through it, one
// record per Write, so records never interleave.
var logOutput io.Writer = &lockedWriter{w: os.Stderr}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logLevel is the lowest level the daemon logs, as it says in the
// plugin's environment, or def.
func logLevel(def slog.Level) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv(contract.EnvLogLevel))); err != nil {
		return def
	}
	return l
}

func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}

// hclogTimeFormat is hclog's JSON timestamp layout (hclog.TimeFormatJSON),
// which go-plugin's own parser also expects.
const hclogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

var logger = sync.OnceValue(func() *slog.Logger { return newLogger(logOutput, logLevel(slog.LevelDebug)) })

// Logger returns the plugin's logger, the same one on every call. Its
// records go to the daemon, which logs them at their level with their
// attributes, tagged with the plugin's name and interface, in the daemon's
// own format (text or JSON). Records below the daemon's level are skipped
// in the plugin. It may be used before Serve, and from any goroutine.
//
// Lines written to os.Stderr or os.Stdout (after Serve) are logged too, at
// info; a record from Logger keeps its level and attributes.
func Logger() *slog.Logger { return logger() }

// newLogger writes records as JSON objects in hclog's layout: "@level",
// "@message", "@timestamp", then the attributes (groups as objects).
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = "@message"
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			case slog.TimeKey:
				a.Key = "@timestamp"
				if a.Value.Kind() == slog.KindTime {
					a.Value = slog.StringValue(a.Value.Time().Format(hclogTimeFormat))
				}
			}
			return a
		},
	}))
}
