package client

import (
	"context"
	"errors"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Client changes and reports chains.
type Client interface {
	// Load puts a program into an interface's chain (attaching the root
	// when the interface has none).
	Load(ctx context.Context, req chain.LoadRequest) (*chain.Loaded, error)
	// Unload removes programs from a chain; the root stays.
	Unload(ctx context.Context, op chain.Unload) (*chain.Unloaded, error)
	// Detach removes an interface's root and every pin.
	Detach(ctx context.Context, op chain.Detach) error
	// Adopt gives an interface whose program was attached by netlink a
	// root whose chain is that program.
	Adopt(ctx context.Context, op chain.Adopt) (*dispatcher.Adopted, error)
	// Leave removes an interface's root and every pin, leaving one
	// program attached by netlink; it returns that program's kernel ID.
	Leave(ctx context.Context, op chain.Leave) (uint32, error)
	// Status reports one interface (itf not nil), every interface with a
	// root in one network namespace (itf with a NetNS and no Name), or
	// every interface with a root.
	Status(ctx context.Context, itf *chain.Interface) (*Status, error)
	// Explain runs one Ethernet frame through an interface's chain as it
	// runs now (dispatcher.Root.Explain).
	Explain(ctx context.Context, itf chain.Interface, frame []byte) (*dispatcher.Explanation, error)
	// Observe starts observing an interface's chain (profile, capture or
	// trace); the observation ends with Close, or when the caller dies.
	Observe(ctx context.Context, itf chain.Interface, p dispatcher.Probe) (Observer, error)
	// Remote reports whether a daemon serves the requests.
	Remote() bool
	Close() error
}

// Status is what Client.Status reports.
type Status struct {
	Interfaces []dispatcher.InterfaceStatus
	// Daemon is the daemon's status (config file, plugin processes) when a
	// daemon answered.
	Daemon *api.Status
}

// Options locate the pins and the daemon.
type Options struct {
	// BPFFS and StateDir are where the pins and state are (the defaults
	// when empty); a daemon uses its own.
	BPFFS, StateDir string
	// Socket is the daemon's control socket (config.DefaultSocket when
	// empty).
	Socket string
	// NoDaemon works on the pins even when a daemon runs.
	NoDaemon bool
	// Actor is who edits (local only; a daemon knows its callers).
	Actor chain.Actor
}

// Connect returns a Remote client when a daemon serves the control socket
// (and NoDaemon is not set), else a Local one.
func Connect(opts Options) (Client, error) {
	if !opts.NoDaemon {
		c, err := Dial(opts.Socket)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, api.ErrNotRunning) {
			return nil, err
		}
	}
	return &Local{BPFFS: opts.BPFFS, StateDir: opts.StateDir, Actor: opts.Actor}, nil
}
