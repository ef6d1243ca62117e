package daemon

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// intakeConfig has two interfaces and a grant for uid 1000 on eth0.
func intakeConfig() *config.Config {
	return &config.Config{
		Interfaces: []config.Interface{{Name: "eth0"}, {Name: "eth1"}},
		Grants: []config.Grant{{User: "1000", UID: 1000, GID: -1, Interfaces: []string{"eth0"},
			PriorityMin: 100, PriorityMax: 200, Verdicts: dispatcher.AllVerdicts}},
	}
}

// TestAdmitLoad: a caller without a grant for the interface is refused
// before its object is looked at (it learns nothing from the parser);
// then the priority's range and the object's size and kind are checked,
// all before the object is parsed.
func TestAdmitLoad(t *testing.T) {
	cfg := intakeConfig()
	garbage := []byte("garbage, not an object")
	prio := func(p int) *int { return &p }
	for _, tc := range []struct {
		name string
		uid  uint32
		req  chain.LoadRequest
		want error
		msg  string
	}{
		{"no grant, garbage object", 1001, chain.LoadRequest{Interface: chain.NewInterface("", "eth0"), Object: garbage}, chain.ErrPermission, "uid 1001 has no [[grant]]"},
		{"grant elsewhere", 1000, chain.LoadRequest{Interface: chain.NewInterface("", "eth1"), Object: garbage}, chain.ErrPermission, `no grant on interface "eth1"`},
		{"not in the config", 1000, chain.LoadRequest{Interface: chain.NewInterface("", "lo"), Object: garbage}, chain.ErrPermission, `no grant on interface "lo"`},
		{"granted, garbage object", 1000, chain.LoadRequest{Interface: chain.NewInterface("", "eth0"), Object: garbage}, dispatcher.ErrLoad, "not an ELF object"},
		{"granted, priority out of range", 1000, chain.LoadRequest{Interface: chain.NewInterface("", "eth0"), Object: garbage, Overrides: chain.Overrides{Priority: prio(-1)}}, dispatcher.ErrInvalid, "out of range [0, 1000]"},
		{"granted, object too large", 1000, chain.LoadRequest{Interface: chain.NewInterface("", "eth0"), Object: make([]byte, dispatcher.MaxObjectSize+1)}, dispatcher.ErrLoad, "larger than"},
		{"root, garbage object", 0, chain.LoadRequest{Interface: chain.NewInterface("", "lo"), Object: garbage}, dispatcher.ErrLoad, "not an ELF object"},
		{"granted, an object", 1000, chain.LoadRequest{Interface: chain.NewInterface("", "eth0"), Object: testprogs.Object(testprogs.Noop)}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := admitLoad(cfg, Peer{UID: tc.uid, GID: tc.uid}, tc.req)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("%v; want %v saying %q", err, tc.want, tc.msg)
			}
		})
	}
}

// dialAs connects to the unix socket path from a thread whose user is uid
// (the kernel records it as the peer's credentials); the thread is thrown
// away after.
func dialAs(t *testing.T, path string, uid int) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
			ch <- result{nil, e}
			return
		}
		c, err := net.Dial("unix", path)
		ch <- result{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("connecting as uid %d: %v", uid, r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c
}

// TestCallerListener: a caller other than root keeps at most
// maxConnsPerCaller connections; one more is closed at once, and a closed
// one frees its place. Root is not limited.
func TestCallerListener(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Skip("needs root (to connect as another user)")
	}
	dir, err := os.MkdirTemp("", "x9-sock-") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	raw, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	// Anyone may connect.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	l := limitCallers(raw, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer l.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	next := func(what string) net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not accepted", what)
			return nil
		}
	}
	var server []net.Conn
	for i := 0; i < maxConnsPerCaller; i++ {
		dialAs(t, path, 65534)
		server = append(server, next("a connection within the limit"))
	}
	// One more is closed by the listener: the client reads EOF, and the
	// root's connection after it is the next one accepted.
	extra := dialAs(t, path, 65534)
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("a connection over the limit: read %v, want EOF", err)
	}
	for i := 0; i < maxConnsPerCaller+1; i++ {
		dialAs(t, path, 0)
		next("root's connection").Close()
	}
	server[0].Close()
	dialAs(t, path, 65534)
	next("a connection after one was closed").Close()
	for _, c := range server {
		c.Close()
	}
}

// FuzzLoadRequest is the control socket's decoding of a Load request,
// everything before it acts: the wire bytes (what gRPC hands the server),
// the translation to a chain.LoadRequest, the admission checks (as a
// granted user and as root) and reading the object. Never a panic; every
// refusal wraps a sentinel the client can map back.
func FuzzLoadRequest(f *testing.F) {
	cfg := intakeConfig()
	f.Fuzz(func(t *testing.T, wire []byte) {
		var msg controlpb.LoadRequest
		if err := proto.Unmarshal(wire, &msg); err != nil {
			return
		}
		req, err := api.LoadFromProto(&msg)
		if err != nil {
			if !errors.Is(err, dispatcher.ErrInvalid) {
				t.Fatalf("wire request refused without ErrInvalid: %v", err)
			}
			return
		}
		for _, p := range []Peer{{UID: 1000, GID: 1000}, {UID: 0}} {
			err := admitLoad(cfg, p, req)
			if err == nil {
				var op chain.Load
				op, err = req.Edit(p.actor().Owner())
				if err == nil && op.Program.Name == "" {
					t.Fatal("a program without a name")
				}
			}
			if err != nil && !errors.Is(err, chain.ErrPermission) && !errors.Is(err, dispatcher.ErrInvalid) && !errors.Is(err, dispatcher.ErrLoad) {
				t.Fatalf("uid %d: error %q (%T) wraps no sentinel", p.UID, err, err)
			}
		}
	})
}
