package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
)

// maxMessage bounds a control message (a program object travels in one).
const maxMessage = 64 << 20

// listen creates the control socket: mode 0660, group from the config. A
// socket file nobody answers on is a leftover and is replaced; one a daemon
// answers on is an error.
func listen(dc config.Daemon) (net.Listener, error) {
	path := dc.Socket
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another daemon is listening", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: removing leftover: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if dc.SocketGID >= 0 {
		if err := os.Chown(path, -1, dc.SocketGID); err != nil {
			l.Close()
			return nil, fmt.Errorf("control socket: group %s: %w", dc.SocketGroup, err)
		}
	}
	return l, nil
}

// serve starts the control API on the configured socket.
func (d *Daemon) serve(dc config.Daemon) error {
	l, err := listen(dc)
	if err != nil {
		return err
	}
	s := grpc.NewServer(grpc.Creds(peerCreds{}), grpc.MaxRecvMsgSize(maxMessage))
	controlpb.RegisterControlServer(s, &controlServer{d: d})
	d.server, d.listener = s, l
	go func() {
		if err := s.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			d.log.Error("control socket stopped", "error", err)
		}
	}()
	d.log.Info("control socket listening", "socket", dc.Socket, "group", dc.SocketGroup)
	return nil
}

// isNotRunning reports a dial error that means no daemon is there.
func isNotRunning(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}
