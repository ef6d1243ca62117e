package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/config"
)

// TestReloadsCoalesce: a config file change followed by SIGHUP (or by
// `xdpchain reload`) is one reload, whichever the daemon sees first; every
// waiting caller gets that reload's outcome; SIGHUP alone still reloads.
func TestReloadsCoalesce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	daemonTable := "[daemon]\nbpffs = " + `"` + dir + `/bpffs"` + "\nstate_dir = " + `"` + dir + `/state"` + "\n"
	write(daemonTable)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// The reloads run in this goroutine; no plugin logs.
	var logs bytes.Buffer
	reloads := func() int { return strings.Count(logs.String(), `msg="config reloaded"`) }
	hup := make(chan struct{}, 1)
	d := New(cfg, Options{ConfigPath: path, NoSocket: true, Reload: hup, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	sum := configSum(path)
	d.lastRead.Store(&sum)
	cw := &configWatch{d: d, path: path, dirs: map[string]bool{}}
	ctx := context.Background()

	// The watcher saw the change and SIGHUP came before the loop ran: one.
	write(daemonTable + "# one\n")
	cw.check()
	hup <- struct{}{}
	d.reloads(ctx, true, nil)
	if n := reloads(); n != 1 {
		t.Fatalf("a change seen by the watcher and SIGHUP together: %d reloads, want 1\n%s", n, logs.String())
	}
	if len(d.configChanged) != 0 || len(hup) != 0 {
		t.Errorf("triggers left queued after the reload: watcher %d, SIGHUP %d", len(d.configChanged), len(hup))
	}

	// SIGHUP first; the watcher sees the change afterwards: still one.
	write(daemonTable + "# two\n")
	d.reloads(ctx, true, nil)
	cw.check()
	if len(d.configChanged) != 0 {
		t.Error("the watcher asks again for a change SIGHUP's reload read")
	}
	// ... also when its event was queued before the reload read the file.
	d.configChanged <- struct{}{}
	d.reloads(ctx, false, nil)
	if n := reloads(); n != 2 {
		t.Fatalf("SIGHUP, then the watcher: %d reloads in all, want 2", n)
	}

	// Two waiting callers and the watcher: one reload, both told.
	write(daemonTable + "# three\n")
	cw.check()
	w1, w2 := make(chan reloadOutcome, 1), make(chan reloadOutcome, 1)
	d.reloadReqs <- w2
	d.reloads(ctx, true, w1)
	for i, w := range []chan reloadOutcome{w1, w2} {
		o := <-w
		if o.err != nil || o.res == nil || o.res.Config != path {
			t.Errorf("caller %d: %+v", i+1, o)
		}
	}
	if n := reloads(); n != 3 {
		t.Fatalf("two requests and the watcher: %d reloads in all, want 3", n)
	}

	// SIGHUP without a change reloads (an operator reviving a plugin).
	hup <- struct{}{}
	d.reloads(ctx, true, nil)
	if n := reloads(); n != 4 {
		t.Errorf("SIGHUP without a change: %d reloads in all, want 4", n)
	}

	// A refused reload answers each caller with the reason.
	write(daemonTable + "bogus = 1\n")
	w := make(chan reloadOutcome, 1)
	d.reloads(ctx, true, w)
	if o := <-w; o.err == nil || !strings.Contains(o.err.Error(), "daemon.bogus: unknown key") {
		t.Errorf("a refused reload: %v", o.err)
	}
}
