package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Peer is the process at the other end of the control socket, as the kernel
// reports it (SO_PEERCRED) when it connected.
type Peer struct {
	PID int32
	UID uint32
	GID uint32
	// Groups are the supplementary groups of the process (from
	// /proc/PID/status), read when it connected.
	Groups []uint32
}

// AuthType implements credentials.AuthInfo.
func (Peer) AuthType() string { return "peercred" }

// InGroup reports whether gid is the peer's group or one of its
// supplementary groups.
func (p Peer) InGroup(gid uint32) bool {
	if p.GID == gid {
		return true
	}
	for _, g := range p.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

type peerAuth struct {
	credentials.CommonAuthInfo
	Peer
}

// peerCreds are gRPC transport credentials for a unix socket: no encryption
// (the kernel carries the bytes), and on the server side the peer's
// credentials from SO_PEERCRED as the AuthInfo.
type peerCreds struct{}

func (peerCreds) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return conn, peerAuth{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
}

func (peerCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	p, err := peerOf(conn)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, peerAuth{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}, Peer: p}, nil
}

func (peerCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "peercred"}
}

func (c peerCreds) Clone() credentials.TransportCredentials { return c }

func (peerCreds) OverrideServerName(string) error { return nil }

// peerOf reads the credentials of a unix socket's peer.
func peerOf(conn net.Conn) (Peer, error) {
	if w, ok := conn.(interface{ NetConn() net.Conn }); ok {
		conn = w.NetConn()
	}
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("peer credentials: %T is not a unix socket", conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return Peer{}, fmt.Errorf("peer credentials: SO_PEERCRED: %w", serr)
	}
	p := Peer{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}
	p.Groups = supplementaryGroups(cred.Pid)
	return p, nil
}

// supplementaryGroups reads the Groups: line of /proc/PID/status; nil when
// the process is gone.
func supplementaryGroups(pid int32) []uint32 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Groups:")
		if !ok {
			continue
		}
		var out []uint32
		for _, f := range strings.Fields(rest) {
			if g, err := strconv.ParseUint(f, 10, 32); err == nil {
				out = append(out, uint32(g))
			}
		}
		return out
	}
	return nil
}

// peerFrom returns the caller of a gRPC call on the control socket.
func peerFrom(ctx context.Context) (Peer, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Peer{}, false
	}
	a, ok := p.AuthInfo.(peerAuth)
	if !ok {
		return Peer{}, false
	}
	return a.Peer, true
}
