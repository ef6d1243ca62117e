package daemon_test

import (
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/daemon"
)

// TestReloadDaemonSettings: a reload that changes [daemon] settings keeps
// the running ones and says they need a restart.
func TestReloadDaemonSettings(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("", "")
	f.start(daemon.Options{})
	f.writeConfig(`socket_group = "0"`+"\n"+`metrics = "127.0.0.1:1"`, "")
	if err := f.d.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "take effect only when the daemon restarts") || !strings.Contains(logs, "socket_group") || !strings.Contains(logs, "metrics") {
		t.Errorf("the log does not say which [daemon] settings need a restart:\n%s", logs)
	}
	if got := f.d.Config().Daemon; got.Metrics != "" || got.SocketGroup != "" {
		t.Errorf("the running [daemon] settings changed: %+v", got)
	}
}
