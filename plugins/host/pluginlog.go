package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// maxLogLine bounds one line of a plugin's output; a longer one is logged
// in pieces.
const maxLogLine = 64 << 10

// pluginLogs routes everything a plugin process says to the daemon's
// logger: go-plugin's own records on the host side (hclogAdapter), and the
// plugin's stderr and stdout (pluginOutput), each record tagged with the
// logger's attributes (the plugin's name, and what the daemon adds).
type pluginLogs struct {
	log *slog.Logger
	// stopping is set while the host stops the plugin: transport errors
	// are then expected and logged at debug.
	stopping atomic.Bool
	// tail keeps the last lines at info and above, quoted in errors about
	// a plugin that failed to start or died.
	tail *tailWriter

	mu      sync.Mutex
	outputs []*pluginOutput
}

func newPluginLogs(l *slog.Logger) *pluginLogs {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &pluginLogs{log: l, tail: newTailWriter(4096)}
}

// hclog returns go-plugin's client logger; command is the binary's base
// name, the name of go-plugin's logger for the plugin's stderr (muted: the
// host parses the stderr itself).
func (pl *pluginLogs) hclog(command string) hclog.Logger {
	return newHCLogAdapter(pl.log, "go-plugin", &pl.stopping, "go-plugin."+command)
}

// output returns a writer for one of the plugin's streams.
func (pl *pluginLogs) output(stream string) *pluginOutput {
	w := &pluginOutput{pl: pl, log: pl.log.With("stream", stream)}
	pl.mu.Lock()
	pl.outputs = append(pl.outputs, w)
	pl.mu.Unlock()
	return w
}

// flush logs the streams' unterminated last lines.
func (pl *pluginLogs) flush() {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for _, w := range pl.outputs {
		w.Flush()
	}
}

// minLevel is the lowest level the logger handles, in slog's notation.
func (pl *pluginLogs) minLevel() string {
	for _, l := range []slog.Level{LevelTrace, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if pl.log.Enabled(context.Background(), l) {
			return l.String()
		}
	}
	return "ERROR+4"
}

// pluginOutput is a stream of a plugin process (stderr, or what go-plugin
// forwards of os.Stdout and os.Stderr after Serve), split into lines. A
// line that is a JSON object with "@message" (the SDK's logger, hclog's
// JSON format) becomes a record at its "@level" with its other keys as
// attributes, at its "@timestamp". Any other line becomes a record at info
// (at the level of an "[ERROR]"-style prefix; a Go panic and what follows
// it at error) with the attribute stream.
type pluginOutput struct {
	pl  *pluginLogs
	log *slog.Logger

	mu      sync.Mutex
	buf     []byte
	inPanic bool
}

func (w *pluginOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= maxLogLine {
		w.line(w.buf[:maxLogLine])
		w.buf = w.buf[maxLogLine:]
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(p), nil
}

// Flush logs an unterminated last line.
func (w *pluginOutput) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(w.buf)
		w.buf = nil
	}
}

func (w *pluginOutput) line(b []byte) {
	b = bytes.TrimRight(b, " \t\r")
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	if r, ok := parseRecord(b); ok {
		if r.goPlugin && r.Level > slog.LevelInfo && w.pl.stopping.Load() {
			r.Level = slog.LevelDebug
		}
		if r.Level >= slog.LevelInfo {
			w.pl.tail.add(recordText(r.Record))
		}
		if w.pl.log.Enabled(context.Background(), r.Level) {
			// The record's own attributes, without the stream: it is a
			// record, not a line of text.
			_ = w.pl.log.Handler().Handle(context.Background(), r.Record)
		}
		return
	}
	line := string(b)
	level, msg := prefixLevel(line)
	if level == hclog.Info && msg == line {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			w.inPanic = true
		}
		if w.inPanic {
			level = hclog.Error
		}
	}
	if level >= hclog.Info {
		w.pl.tail.add(line)
	}
	w.log.Log(context.Background(), slogLevel(level), msg)
}

// record is one structured line of a plugin's output.
type record struct {
	slog.Record
	// goPlugin: written by go-plugin's logger in the plugin ("@module"
	// go-plugin...), not by the plugin's code.
	goPlugin bool
}

// parseRecord parses a JSON log line: "@message", "@level", "@timestamp"
// and hclog's "@module" (attribute logger) and "@caller" (caller); the
// other keys, in their order, are the attributes, nested objects groups.
func parseRecord(b []byte) (record, bool) {
	if len(b) == 0 || b[0] != '{' {
		return record{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return record{}, false
	}
	attrs, err := decodeObject(dec)
	if err != nil {
		return record{}, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return record{}, false // trailing data
	}
	var (
		r                record
		msg, level, when string
		haveMsg          bool
		rest             = make([]slog.Attr, 0, len(attrs))
	)
	for _, a := range attrs {
		switch a.Key {
		case "@message":
			msg, haveMsg = a.Value.String(), true
		case "@level":
			level = a.Value.String()
		case "@timestamp":
			when = a.Value.String()
		case "@module":
			r.goPlugin = strings.HasPrefix(a.Value.String(), "go-plugin")
			rest = append(rest, slog.String("logger", a.Value.String()))
		case "@caller":
			rest = append(rest, slog.String("caller", a.Value.String()))
		default:
			rest = append(rest, a)
		}
	}
	if !haveMsg {
		return record{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, when)
	if err != nil {
		t = time.Now()
	}
	r.Record = slog.NewRecord(t, parseLevel(level), msg, 0)
	r.AddAttrs(rest...)
	return r, true
}

// parseLevel reads hclog's level names and slog's ("info", "WARN",
// "DEBUG-2"); unknown or absent: info.
func parseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "trace":
		return LevelTrace
	case "warning":
		return slog.LevelWarn
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// decodeObject reads an object's members after its '{', through its '}'.
func decodeObject(dec *json.Decoder) ([]slog.Attr, error) {
	var attrs []slog.Attr
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		v, err := decodeValue(dec)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, slog.Attr{Key: key, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return attrs, nil
}

func decodeValue(dec *json.Decoder) (slog.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return slog.Value{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			attrs, err := decodeObject(dec)
			if err != nil {
				return slog.Value{}, err
			}
			return slog.GroupValue(attrs...), nil
		case '[':
			var list []any
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return slog.Value{}, err
				}
				list = append(list, plain(v))
			}
			if _, err := dec.Token(); err != nil {
				return slog.Value{}, err
			}
			return slog.AnyValue(list), nil
		}
		return slog.Value{}, errors.New("unexpected delimiter")
	case string:
		return slog.StringValue(t), nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return slog.Int64Value(i), nil
		}
		f, err := t.Float64()
		if err != nil {
			return slog.Value{}, err
		}
		return slog.Float64Value(f), nil
	case bool:
		return slog.BoolValue(t), nil
	case nil:
		return slog.AnyValue(nil), nil
	}
	return slog.Value{}, errors.New("unexpected token")
}

// plain turns a decoded value into what encoding/json writes back the same
// way (inside a list, where slog has no groups).
func plain(v slog.Value) any {
	if v.Kind() != slog.KindGroup {
		return v.Any()
	}
	m := map[string]any{}
	for _, a := range v.Group() {
		m[a.Key] = plain(a.Value)
	}
	return m
}

// recordText is a record as one line for an error message: its message and
// its attributes as key=value.
func recordText(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Message)
	var attr func(prefix string, a slog.Attr) bool
	attr = func(prefix string, a slog.Attr) bool {
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				attr(prefix+a.Key+".", g)
			}
			return true
		}
		fmt.Fprintf(&b, " %s%s=%v", prefix, a.Key, a.Value)
		return true
	}
	r.Attrs(func(a slog.Attr) bool { return attr("", a) })
	return b.String()
}
