package host

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// logEverywhere is what the probe does with the setting "log": a record
// with sdk.Logger at info and at debug, a line on os.Stderr and one on
// os.Stdout (go-plugin's pipes after Serve), and one with the log package
// (the process's original stderr).
func logEverywhere(msg string) {
	sdk.Logger().Info(msg, "n", 1, slog.Group("feed", "age", "5m"))
	sdk.Logger().Debug(msg + " (debug)")
	fmt.Fprintln(os.Stderr, msg+" (stderr)")
	fmt.Println(msg + " (stdout)")
	log.Print(msg + " (log package)")
}

// recorder is a slog.Handler that keeps every record with the attributes
// of its logger, flattened (group.key).
type recorder struct {
	mu      *sync.Mutex
	records *[]logged
	attrs   []slog.Attr
	level   slog.Level
}

type logged struct {
	time  time.Time
	level slog.Level
	msg   string
	attrs map[string]string
}

func (l logged) String() string { return fmt.Sprintf("%s %q %v", l.level, l.msg, l.attrs) }

func newRecorder(level slog.Level) *recorder {
	return &recorder{mu: new(sync.Mutex), records: new([]logged), level: level}
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	e := logged{time: rec.Time, level: rec.Level, msg: rec.Message, attrs: map[string]string{}}
	var add func(prefix string, a slog.Attr)
	add = func(prefix string, a slog.Attr) {
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				add(prefix+a.Key+".", g)
			}
			return
		}
		e.attrs[prefix+a.Key] = a.Value.String()
	}
	for _, a := range r.attrs {
		add("", a)
	}
	rec.Attrs(func(a slog.Attr) bool { add("", a); return true })
	r.mu.Lock()
	*r.records = append(*r.records, e)
	r.mu.Unlock()
	return nil
}

func (r *recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(append([]slog.Attr(nil), r.attrs...), attrs...)
	return &c
}

func (r *recorder) WithGroup(string) slog.Handler { panic("not used") }

func (r *recorder) all() []logged {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logged(nil), *r.records...)
}

// find returns the records whose message is msg.
func (r *recorder) find(msg string) []logged {
	var out []logged
	for _, l := range r.all() {
		if l.msg == msg {
			out = append(out, l)
		}
	}
	return out
}

// wait polls until a record with message msg arrived.
func (r *recorder) wait(t *testing.T, msg string) logged {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := r.find(msg); len(got) > 0 {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record %q; got:\n%s", msg, r.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expect checks the records, as logged.String.
func (r *recorder) expect(t *testing.T, want []string) {
	t.Helper()
	got := r.all()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d:\n%s", len(got), len(want), r.dump())
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func (r *recorder) dump() string {
	var b strings.Builder
	for _, l := range r.all() {
		fmt.Fprintln(&b, l)
	}
	return b.String()
}

// TestProcessLogs: what a plugin process logs reaches the host's logger, at
// its level and with the plugin's name and the logger's own attributes;
// starting and stopping it logs no warning or error.
func TestProcessLogs(t *testing.T) {
	testutil.RequireRoot(t)
	rec := newRecorder(slog.LevelDebug)
	opts := helperOptions("edge", "probe")
	opts.Logger = slog.New(rec).With("interface", "veth-test")
	p := startPlugin(t, opts)
	if err := p.ConfigureSettings(testContext(), map[string]any{"log": "hello"}); err != nil {
		t.Fatal(err)
	}
	check := func(msg string, level slog.Level, attrs map[string]string) {
		t.Helper()
		got := rec.wait(t, msg)
		if got.level != level {
			t.Errorf("%q at %s, want %s", msg, got.level, level)
		}
		want := map[string]string{"plugin": "edge", "interface": "veth-test"}
		for k, v := range attrs {
			want[k] = v
		}
		for k, v := range want {
			if got.attrs[k] != v {
				t.Errorf("%q: attribute %s=%q, want %q (record %v)", msg, k, got.attrs[k], v, got)
			}
		}
	}
	check("hello", slog.LevelInfo, map[string]string{"n": "1", "feed.age": "5m"})
	check("hello (debug)", slog.LevelDebug, nil)
	check("hello (stderr)", slog.LevelInfo, map[string]string{"stream": "stderr"})
	check("hello (stdout)", slog.LevelInfo, map[string]string{"stream": "stdout"})
	// The log package prefixes the date.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(rec.dump(), `hello (log package)"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no line from the log package; got:\n%s", rec.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Kill()
	if n := len(rec.find("hello")); n != 1 {
		t.Errorf("the record arrived %d times, want once:\n%s", n, rec.dump())
	}
	for _, l := range rec.all() {
		if l.level >= slog.LevelWarn || l.msg == "plugin failed to exit gracefully" {
			t.Errorf("a normal start and stop logged %v", l)
		}
		if l.attrs["plugin"] != "edge" {
			t.Errorf("record without the plugin's name: %v", l)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("records:\n%s", rec.dump())
	}
}

// TestPluginOutput: how lines of a plugin's output become records.
func TestPluginOutput(t *testing.T) {
	rec := newRecorder(LevelTrace)
	logs := newPluginLogs(slog.New(rec).With("plugin", "p"))
	w := logs.output("stderr")
	// go-plugin writes a line and its newline separately.
	for _, s := range []string{
		`{"@timestamp":"2026-01-02T03:04:05.000006Z","@level":"warn","@message":"feed stale","age":"5m","feed":{"url":"u","n":2},"list":[1,{"a":true}]}`, "\n",
		`{"@level":"debug-2","@message":"fine"}` + "\n",
		`{"@level":"trace","@message":"finer","@module":"go-plugin.yamux"}` + "\n" + "[ERR] something\n",
		"plain line\n" + `{"not":"a record"}` + "\n",
		// A panic: it and everything after it is an error.
		"panic: boom\n\ngoroutine 1 [running]:\n" + "unterminated",
	} {
		w.Write([]byte(s))
	}
	w.Flush()
	want := []string{
		`WARN "feed stale" map[age:5m feed.n:2 feed.url:u list:[1 map[a:true]] plugin:p]`,
		`DEBUG-2 "fine" map[plugin:p]`,
		`DEBUG-4 "finer" map[logger:go-plugin.yamux plugin:p]`,
		`ERROR "something" map[plugin:p stream:stderr]`,
		`INFO "plain line" map[plugin:p stream:stderr]`,
		`INFO "{\"not\":\"a record\"}" map[plugin:p stream:stderr]`,
		`ERROR "panic: boom" map[plugin:p stream:stderr]`,
		`ERROR "goroutine 1 [running]:" map[plugin:p stream:stderr]`,
		`ERROR "unterminated" map[plugin:p stream:stderr]`,
	}
	rec.expect(t, want)
	rec.mu.Lock()
	*rec.records = nil
	rec.mu.Unlock()
	// The plugin's time is the record's.
	w.Write([]byte(`{"@timestamp":"2026-01-02T03:04:05.000006Z","@message":"t"}` + "\n"))
	if got := rec.all(); len(got) != 1 || !got[0].time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)) {
		t.Errorf("record time: %v", got)
	}
	// While the host stops the plugin, go-plugin's errors are expected;
	// the plugin's own are not.
	logs.stopping.Store(true)
	w.Write([]byte(`{"@level":"error","@message":"yamux: Failed to write header","@module":"go-plugin.yamux"}` + "\n" +
		`{"@level":"error","@message":"flushing counters failed"}` + "\n"))
	got := rec.all()
	if len(got) != 3 || got[1].level != slog.LevelDebug || got[2].level != slog.LevelError {
		t.Errorf("while stopping:\n%s", rec.dump())
	}
	if tail := logs.tail.String(); !strings.Contains(tail, "feed stale age=5m feed.url=u feed.n=2") || !strings.Contains(tail, "panic: boom") ||
		strings.Contains(tail, "finer") || strings.Contains(tail, "yamux") {
		t.Errorf("tail kept for error messages:\n%s", tail)
	}
}

// TestHCLogAdapter: go-plugin's logger writes to slog; the logger of the
// plugin's stderr is off (the host parses it); the standard logger go-plugin
// gives yamux infers levels; a stop demotes warnings and errors.
func TestHCLogAdapter(t *testing.T) {
	rec := newRecorder(slog.LevelDebug)
	logs := newPluginLogs(slog.New(rec).With("plugin", "p"))
	l := logs.hclog("xdpchain-blocklist")
	if l.GetLevel() != hclog.Debug || l.IsTrace() || !l.IsDebug() {
		t.Errorf("level %s", l.GetLevel())
	}
	if got := l.Named("xdpchain-blocklist").GetLevel(); got != hclog.Off {
		t.Errorf("the stderr logger is %s, want off", got)
	}
	l.Named("xdpchain-blocklist").Error("parsed twice")
	l.Named("stdio").With("k", 1).Info("plugin process exited", "plugin", "/usr/bin/x", "odd")
	l.Trace("below the handler's level")
	l.Named("yamux").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Printf("[ERR] yamux: Failed to write header: %v", "broken pipe")
	l.Info("formatted", "v", hclog.Fmt("%d-%s", 7, "x"))
	logs.stopping.Store(true)
	l.Warn("plugin failed to exit gracefully")
	want := []string{
		`INFO "plugin process exited" map[EXTRA_VALUE_AT_END:odd command:/usr/bin/x k:1 logger:go-plugin.stdio plugin:p]`,
		`ERROR "yamux: Failed to write header: broken pipe" map[logger:go-plugin.yamux plugin:p]`,
		`INFO "formatted" map[logger:go-plugin plugin:p v:7-x]`,
		`DEBUG "plugin failed to exit gracefully" map[logger:go-plugin plugin:p]`,
	}
	rec.expect(t, want)
}
