package daemon

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/config"
)

// TestListenRemovesOnlyStaleSockets: listen replaces a socket nobody
// listens on, and refuses, naming the path and leaving it as it is,
// anything else there: a file, a directory, a symbolic link, a live socket.
func TestListenRemovesOnlyStaleSockets(t *testing.T) {
	dir := t.TempDir()
	dc := func(path string) config.Daemon { return config.Daemon{Socket: path, SocketGID: -1} }

	t.Run("stale socket", func(t *testing.T) {
		path := filepath.Join(dir, "stale.sock")
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		l.Close() // the file stays, nobody listens: connecting is refused
		if stale, err := CheckSocket(path); !stale || err != nil {
			t.Fatalf("CheckSocket of a stale socket: %v, %v; want stale", stale, err)
		}
		l2, err := listen(dc(path))
		if err != nil {
			t.Fatalf("listen over a stale socket: %v", err)
		}
		l2.Close()
	})

	t.Run("live socket", func(t *testing.T) {
		path := filepath.Join(dir, "live.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		_, err = listen(dc(path))
		if !errors.Is(err, ErrSocketInUse) || !strings.Contains(err.Error(), path) {
			t.Errorf("listen on a live socket: %v; want ErrSocketInUse naming %s", err, path)
		}
		if c, err := net.Dial("unix", path); err != nil {
			t.Errorf("the live socket no longer answers: %v", err)
		} else {
			c.Close()
		}
	})

	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, what string
		make       func(path string) error
	}{
		{"regular file", "is a regular file, not a socket", func(p string) error { return os.WriteFile(p, []byte("data"), 0o600) }},
		{"directory", "is a directory, not a socket", func(p string) error { return os.Mkdir(p, 0o700) }},
		{"symbolic link", "is a symbolic link, not a socket", func(p string) error { return os.Symlink(target, p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := tc.make(path); err != nil {
				t.Fatal(err)
			}
			before, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = listen(dc(path))
			if !errors.Is(err, ErrSocketPath) || !strings.Contains(err.Error(), path+" "+tc.what) {
				t.Errorf("listen on a %s: %v; want ErrSocketPath saying %q", tc.name, err, path+" "+tc.what)
			}
			after, err := os.Lstat(path)
			if err != nil || !os.SameFile(before, after) {
				t.Errorf("the %s at the socket path was touched: %v", tc.name, err)
			}
		})
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "precious" {
		t.Errorf("the symbolic link's target: %q, %v", b, err)
	}
}

// TestSocketLockExcludes: a second lockSocket on the same socket fails
// with ErrSocketInUse naming the lock, until the first is released.
func TestSocketLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "xdpchain.sock")
	l1, err := lockSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockSocket(path); !errors.Is(err, ErrSocketInUse) || !strings.Contains(err.Error(), path+".lock") {
		t.Errorf("second lock: %v; want ErrSocketInUse naming %s.lock", err, path)
	}
	l1.Unlock()
	l1.Unlock() // idempotent
	l2, err := lockSocket(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Unlock()
	var none *socketLock
	none.Unlock() // no panic
}
