package host

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeContext: a plugin served with sdk.ServeContext gets control back
// when the daemon stops it (nil) and when its context ends (here by
// SIGTERM), and can clean up before it exits.
func TestServeContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*Plugin)
		want string
	}{
		{"stopped by the daemon", (*Plugin).Kill, "<nil>"},
		{"SIGTERM", func(p *Plugin) {
			if err := syscall.Kill(p.Pid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.Exited():
			case <-time.After(30 * time.Second):
				t.Fatal("the plugin did not exit after SIGTERM")
			}
		}, "terminated"}, // context.Cause of signal.NotifyContext names the signal
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "stopped")
			opts := helperOptions("sc", "servecontext")
			opts.Env = append(opts.Env, markerEnv+"="+marker)
			p := startPlugin(t, opts)
			if err := p.Health(testContext()); err != nil {
				t.Fatalf("health: %v", err)
			}
			tc.stop(p)
			got, err := os.ReadFile(marker)
			if err != nil {
				t.Fatalf("the plugin's main did not run after ServeContext: %v", err)
			}
			if !strings.Contains(string(got), tc.want) {
				t.Errorf("ServeContext returned %q, want %q", got, tc.want)
			}
		})
	}
}
