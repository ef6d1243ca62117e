package daemon

import (
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/config"
)

func TestRestartOnly(t *testing.T) {
	old := config.Daemon{BPFFS: "/sys/fs/bpf", Socket: "/run/a.sock", StateDir: "/run/x", SocketGroup: "adm", Metrics: ""}
	if got := restartOnly(old, old); len(got) != 0 {
		t.Errorf("no change: %v", got)
	}
	cur := old
	cur.Socket, cur.Metrics = "/run/b.sock", "127.0.0.1:9464"
	got := restartOnly(old, cur)
	if len(got) != 2 || !strings.HasPrefix(got[0], `socket ("/run/a.sock", the file now says "/run/b.sock")`) || !strings.HasPrefix(got[1], "metrics") {
		t.Errorf("socket and metrics changed: %v", got)
	}
}
