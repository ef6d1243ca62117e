package daemon

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/xdpchain/xdpchain/api"
	"golang.org/x/sys/unix"
)

// EnvNotifySocket is the service manager's notification socket (systemd's
// Type=notify): a unix datagram socket path, or "@name" for an abstract
// one.
const EnvNotifySocket = "NOTIFY_SOCKET"

// notifier sends sd_notify(3) messages: READY=1 once the first config is
// applied, RELOADING=1 and READY=1 around each reload, STOPPING=1 when Run
// stops. A nil notifier sends nothing.
type notifier struct {
	addr *net.UnixAddr
	log  func(msg string, args ...any)
}

func newNotifier(socket string, log func(string, ...any)) *notifier {
	if socket == "" {
		return nil
	}
	name := socket
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:] // abstract namespace
	}
	return &notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}, log: log}
}

// send sends one message, lines of KEY=VALUE. Failures are logged: the
// daemon works without a service manager.
func (n *notifier) send(lines ...string) {
	if n == nil {
		return
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err == nil {
		_, err = conn.Write([]byte(strings.Join(lines, "\n") + "\n"))
		conn.Close()
	}
	if err != nil {
		n.log("notifying the service manager failed", "socket", n.addr.Name, "message", lines[0], "error", err)
	}
}

func (n *notifier) ready(status string) { n.send("READY=1", "STATUS="+oneLineStatus(status)) }

// reloading is sent before a reload; systemd (253+) wants the monotonic
// time with it.
func (n *notifier) reloading() {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	n.send("RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", ts.Nano()/1000), "STATUS=reloading the config")
}

func (n *notifier) stopping() { n.send("STOPPING=1", "STATUS=stopping; programs stay in their chains") }

func oneLineStatus(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// reloadNotify reloads (reload.go) and tells the service manager:
// RELOADING=1, then READY=1 with the outcome.
func (d *Daemon) reloadNotify(ctx context.Context) (*api.ReloadResult, error) {
	d.notify.reloading()
	res, err := d.reload(ctx)
	if err != nil {
		d.log.Error("reload refused; the previous config stays in force", "config", d.opts.ConfigPath, "error", err)
		d.notify.ready("reload refused; the previous config stays in force: " + err.Error())
		return nil, err
	}
	d.notify.ready("config reloaded; chains in line")
	return res, nil
}
