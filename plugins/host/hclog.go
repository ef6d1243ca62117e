package host

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level of hclog's (and a plugin's) trace records:
// below slog.LevelDebug, so a daemon at debug does not show them.
const LevelTrace = slog.LevelDebug - 4

// hclogAdapter is an hclog.Logger that writes to a *slog.Logger: go-plugin
// logs through it, so its records reach the daemon's handler (text or JSON)
// with the plugin's attributes instead of as plain text beside it. The
// logger's name becomes the attribute "logger" (go-plugin.stdio, ...).
//
// No adapter module is used: the only one on the module proxy
// (evanphx/go-hclog-slog) has no release, and two things here are specific
// to the host: see mute and quiet.
type hclogAdapter struct {
	log  *slog.Logger
	name string
	args []any
	// mute names loggers that are off. go-plugin parses the plugin's
	// stderr itself, on the logger named after the command; the host parses
	// it instead (pluginOutput), so that logger is muted or each line would
	// be logged twice, the second time mangled.
	mute map[string]bool
	// quiet, when it reports true, logs warnings and errors at debug: while
	// the host stops the plugin, go-plugin's complaints about connections
	// closing under it ("yamux: Failed to write header: broken pipe") are
	// expected.
	quiet *atomic.Bool
	level *atomic.Int32 // hclog.Level set by SetLevel; NoLevel: the handler decides
}

func newHCLogAdapter(l *slog.Logger, name string, quiet *atomic.Bool, mute ...string) *hclogAdapter {
	a := &hclogAdapter{log: l, name: name, mute: map[string]bool{}, quiet: quiet, level: new(atomic.Int32)}
	for _, m := range mute {
		a.mute[m] = true
	}
	if a.quiet == nil {
		a.quiet = new(atomic.Bool)
	}
	a.level.Store(int32(hclog.NoLevel))
	return a
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (a *hclogAdapter) enabled(l hclog.Level) bool {
	if l == hclog.Off || a.mute[a.name] {
		return false
	}
	if set := hclog.Level(a.level.Load()); set != hclog.NoLevel && l < set {
		return false
	}
	return a.log.Enabled(context.Background(), slogLevel(l))
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	if a.quiet.Load() && level > hclog.Info {
		level = hclog.Debug
	}
	if !a.enabled(level) {
		return
	}
	attrs := make([]any, 0, 2+len(a.args)+len(args))
	if a.name != "" {
		attrs = append(attrs, "logger", a.name)
	}
	attrs = append(attrs, hclogArgs(a.args)...)
	attrs = append(attrs, hclogArgs(args)...)
	a.log.Log(context.Background(), slogLevel(level), msg, attrs...)
}

// hclogArgs turns hclog's key/value pairs into slog's: keys become strings,
// hclog.Format values are formatted, a lone value gets hclog's key. The
// key "plugin" (go-plugin's name for the command path) becomes "command":
// "plugin" is the plugin's name in the daemon's log.
func hclogArgs(args []any) []any {
	out := make([]any, 0, len(args))
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			out = append(out, hclog.MissingKey, hclogValue(args[i]))
			break
		}
		key := fmt.Sprint(args[i])
		if key == "plugin" {
			key = "command"
		}
		out = append(out, key, hclogValue(args[i+1]))
	}
	return out
}

func hclogValue(v any) any {
	if f, ok := v.(hclog.Format); ok && len(f) > 0 {
		if format, ok := f[0].(string); ok {
			return fmt.Sprintf(format, f[1:]...)
		}
		return fmt.Sprint(f...)
	}
	return v
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *hclogAdapter) ImpliedArgs() []any { return append([]any(nil), a.args...) }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	b := *a
	b.args = append(append([]any(nil), a.args...), args...)
	return &b
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	if a.name != "" {
		name = a.name + "." + name
	}
	return a.ResetNamed(name)
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	b := *a
	b.name = name
	return &b
}

// SetLevel raises (or lowers, down to the handler's) the adapter's
// threshold, for this logger and those derived from it.
func (a *hclogAdapter) SetLevel(l hclog.Level) { a.level.Store(int32(l)) }

// GetLevel is the lowest level that would be logged, or Off (go-plugin
// skips parsing the plugin's stderr when its logger is Off).
func (a *hclogAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter logs each write as one record: at opts.ForceLevel, or at
// the level its "[ERR]"-style prefix names (InferLevels), else at info.
func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &stdWriter{a: a, opts: *opts}
}

type stdWriter struct {
	a    *hclogAdapter
	opts hclog.StandardLoggerOptions
}

func (w *stdWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, " \t\r\n"))
	level, rest := prefixLevel(msg)
	switch {
	case w.opts.ForceLevel != hclog.NoLevel:
		level, msg = w.opts.ForceLevel, rest
	case w.opts.InferLevels:
		msg = rest
	default:
		level = hclog.Info
	}
	w.a.Log(level, msg)
	return len(p), nil
}

// prefixLevel reads a "[ERROR] ..." style level prefix (as hclog and
// go-plugin do): the level and the rest of the line, or Info and the whole
// line.
func prefixLevel(line string) (hclog.Level, string) {
	for _, p := range []struct {
		prefix string
		level  hclog.Level
	}{
		{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
		{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}, {"[ERR]", hclog.Error},
	} {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			return p.level, strings.TrimSpace(rest)
		}
	}
	return hclog.Info, line
}
