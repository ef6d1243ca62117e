package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// What a caller of the control socket may cost the daemon before anything
// it sends is looked at. A message holds at most one object
// (dispatcher.MaxObjectSize) and its fields; a caller other than root has
// at most maxConnsPerCaller connections, each with at most
// maxStreamsPerConn requests in flight (more wait in the client), so at
// most maxConnsPerCaller*maxStreamsPerConn messages of one such caller are
// held at a time.
const (
	maxConnsPerCaller = 4
	maxStreamsPerConn = 2
)

// admitLoad is what the daemon checks of a Load request before it reads
// the object: the caller's grants first (a caller that no grant lets load
// on the interface learns nothing about its object), then what costs
// nothing to check (the priority's range, the object's size and kind).
func admitLoad(cfg *config.Config, p Peer, req chain.LoadRequest) error {
	if p.UID != 0 {
		mine := grantsOf(cfg.Grants, p)
		if len(mine) == 0 {
			return fmt.Errorf("%w: uid %d has no [[grant]]", chain.ErrPermission, p.UID)
		}
		ref := req.Interface.String()
		if c := cfg.Interface(ref); c != nil {
			ref = c.Ref()
		}
		covered := false
		for _, g := range mine {
			covered = covered || g.OnInterface(ref)
		}
		if !covered {
			return fmt.Errorf("%w: uid %d has no grant on interface %q", chain.ErrPermission, p.UID, ref)
		}
	}
	if pr := req.Overrides.Priority; pr != nil {
		if err := dispatcher.CheckPriority(*pr); err != nil {
			return err
		}
	}
	return dispatcher.CheckObject(req.Object)
}

// callerListener bounds the connections of each caller other than root to
// maxConnsPerCaller: one more is closed at once (and logged).
type callerListener struct {
	net.Listener
	log   *slog.Logger
	mu    sync.Mutex
	conns map[uint32]int
}

func limitCallers(l net.Listener, log *slog.Logger) *callerListener {
	return &callerListener{Listener: l, log: log, conns: map[uint32]int{}}
}

func (l *callerListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p, err := peerOf(conn)
		if err != nil || p.UID == 0 {
			return conn, nil // the handshake refuses what it cannot identify
		}
		l.mu.Lock()
		n := l.conns[p.UID]
		if n < maxConnsPerCaller {
			l.conns[p.UID] = n + 1
		}
		l.mu.Unlock()
		if n >= maxConnsPerCaller {
			l.log.Warn("connection refused: too many connections", "uid", p.UID, "pid", p.PID, "max", maxConnsPerCaller)
			conn.Close()
			continue
		}
		return &callerConn{Conn: conn, release: func() {
			l.mu.Lock()
			if l.conns[p.UID]--; l.conns[p.UID] <= 0 {
				delete(l.conns, p.UID)
			}
			l.mu.Unlock()
		}}, nil
	}
}

// callerConn gives its caller's connection back when closed.
type callerConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *callerConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// NetConn is the connection itself (for its peer credentials).
func (c *callerConn) NetConn() net.Conn { return c.Conn }
