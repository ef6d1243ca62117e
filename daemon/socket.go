package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
)

// CheckSocket reports what is at a control socket's path: nil when nothing
// is, stale when it is a socket nobody listens on (connecting is refused), a
// leftover that listen replaces. A daemon answering there is ErrSocketInUse;
// anything else (a file, a directory, a symbolic link, a socket that cannot
// be probed) is ErrSocketPath, naming the path and what is there.
func CheckSocket(path string) (stale bool, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); errors.Is(err, unix.ENOENT) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("%w: %s: %w", ErrSocketPath, path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return false, fmt.Errorf("%w: %s is %s, not a socket; xdpchain removes only a stale socket there", ErrSocketPath, path, fileKind(st.Mode))
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	switch {
	case err == nil:
		c.Close()
		return false, fmt.Errorf("%w: a daemon answers on %s", ErrSocketInUse, path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return true, nil
	default:
		return false, fmt.Errorf("%w: probing the socket %s: %w", ErrSocketPath, path, err)
	}
}

func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	}
	return "not a socket"
}

// socketLock is the daemon's exclusive lock: flock on SOCKET.lock, held for
// the daemon's life (the kernel releases it when the process dies). The lock
// file stays; removing it would let two daemons lock two files.
type socketLock struct{ f *os.File }

func lockSocket(path string) (*socketLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	lockPath := path + ".lock"
	l, busy, err := lockFile(lockPath)
	if busy {
		return nil, fmt.Errorf("%w: it holds %s (its control socket %s); this one changed nothing", ErrSocketInUse, lockPath, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSocketPath, err)
	}
	return l, nil
}

// stateLockFile is the lock a daemon holds in its state directory: one
// daemon per instance (dispatcher.Instance), whatever sockets they have,
// since two daemons on one state directory would each sweep and reconcile
// the other's chains.
const stateLockFile = "daemon.lock"

// lockStateDir takes the lock of the daemon's state directory.
func lockStateDir(dir string) (*socketLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	lockPath := filepath.Join(dir, stateLockFile)
	l, busy, err := lockFile(lockPath)
	if busy {
		return nil, fmt.Errorf("%w: another daemon manages the state dir %s (it holds %s), with another control socket; one daemon per state dir, and this one changed nothing", ErrSocketInUse, dir, lockPath)
	}
	return l, err
}

// lockFile takes an exclusive flock on path, creating the file; busy when
// another process holds it.
func lockFile(lockPath string) (_ *socketLock, busy bool, _ error) {
	fd, err := unix.Open(lockPath, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("opening the daemon's lock %s: %v", lockPath, err)
	}
	f := os.NewFile(uintptr(fd), lockPath)
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, true, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("locking %s: %w", lockPath, err)
	}
	return &socketLock{f: f}, false, nil
}

func (l *socketLock) Unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// listen creates the control socket: mode 0660, group from the config.
// Call with the daemon's lock held. Only a stale socket is replaced (see
// CheckSocket).
func listen(dc config.Daemon) (net.Listener, error) {
	path := dc.Socket
	stale, err := CheckSocket(path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if stale {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("control socket: removing the stale socket %s: %w", path, err)
		}
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

// claimSocket takes the daemon's exclusive lock and checks the control
// socket's path, before the daemon changes anything: a second daemon on the
// same socket fails here with ErrSocketInUse, and a path that is not a
// stale socket with ErrSocketPath. The socket itself is created once the
// first config is applied (serve), so a client never waits on a daemon
// that is still starting: it finds none, or one that answers.
func (d *Daemon) claimSocket(dc config.Daemon) error {
	lock, err := lockSocket(dc.Socket)
	if err != nil {
		return err
	}
	if _, err := CheckSocket(dc.Socket); err != nil {
		lock.Unlock()
		return fmt.Errorf("control socket: %w", err)
	}
	state, err := lockStateDir(dc.StateDir)
	if err != nil {
		lock.Unlock()
		return err
	}
	d.lock, d.stateLock = lock, state
	return nil
}

// serve creates the control socket and starts the control API on it. Call
// with the daemon's lock held (claimSocket).
func (d *Daemon) serve(dc config.Daemon) error {
	l, err := listen(dc)
	if err != nil {
		return err
	}
	s := grpc.NewServer(grpc.Creds(peerCreds{}), grpc.MaxRecvMsgSize(api.MaxMessage), grpc.MaxConcurrentStreams(maxStreamsPerConn))
	controlpb.RegisterControlServer(s, &controlServer{d: d})
	d.server, d.listener = s, l
	l = limitCallers(l, d.log)
	go func() {
		if err := s.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			d.log.Error("control socket stopped", "error", err)
		}
	}()
	d.log.Info("control socket listening", "socket", dc.Socket, "group", dc.SocketGroup)
	return nil
}
