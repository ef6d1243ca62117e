package client

import (
	"context"
	"fmt"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Remote asks a running daemon over its control socket; the daemon knows
// the caller from the socket (SO_PEERCRED) and applies its grants.
type Remote struct{ c *daemon.Client }

// Load implements Client.
func (r *Remote) Load(ctx context.Context, req chain.LoadRequest) (*chain.Loaded, error) {
	return r.c.Load(ctx, req)
}

// Unload implements Client.
func (r *Remote) Unload(ctx context.Context, op chain.Unload) (*chain.Unloaded, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	return r.c.Unload(ctx, op)
}

// Detach implements Client.
func (r *Remote) Detach(ctx context.Context, op chain.Detach) error { return r.c.Detach(ctx, op) }

// Adopt implements Client.
func (r *Remote) Adopt(ctx context.Context, op chain.Adopt) (*dispatcher.Adopted, error) {
	return r.c.Adopt(ctx, op)
}

// Leave implements Client.
func (r *Remote) Leave(ctx context.Context, op chain.Leave) (uint32, error) {
	return r.c.Leave(ctx, op)
}

// Status implements Client.
func (r *Remote) Status(ctx context.Context, itf *chain.Interface) (*Status, error) {
	var name, netns string
	if itf != nil {
		name, netns = itf.Name, itf.NetNS
	}
	st, err := r.c.Status(ctx, name, netns)
	if err != nil {
		return nil, err
	}
	if itf != nil && itf.Name != "" && len(st.Interfaces) == 0 {
		// As Local: the interface has no root.
		return nil, fmt.Errorf("%w %q", dispatcher.ErrNotAttached, name)
	}
	return &Status{Interfaces: st.Interfaces, Daemon: st}, nil
}

// Explain implements Client.
func (r *Remote) Explain(ctx context.Context, itf chain.Interface, frame []byte) (*dispatcher.Explanation, error) {
	return r.c.Explain(ctx, itf, frame)
}

// Remote implements Client: true.
func (r *Remote) Remote() bool { return true }

// Close implements Client.
func (r *Remote) Close() error { return r.c.Close() }
