package client

import (
	"context"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Local works on the pins directly, as Actor.
type Local struct {
	BPFFS, StateDir string
	Actor           chain.Actor
}

func (l *Local) options(itf chain.Interface) *dispatcher.Options {
	return &dispatcher.Options{NetNS: itf.NetNS, BPFFS: l.BPFFS, StateDir: l.StateDir}
}

// Load implements Client.
func (l *Local) Load(_ context.Context, req chain.LoadRequest) (*chain.Loaded, error) {
	op, err := req.Edit(l.Actor.Owner())
	if err != nil {
		return nil, err
	}
	opts := l.options(req.Interface)
	opts.Mode, opts.VerifierLogs = req.Mode, req.VerifierLog
	r, err := chain.OpenForLoad(op, l.Actor, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return chain.LoadOn(r, op, l.Actor, nil)
}

// Unload implements Client.
func (l *Local) Unload(_ context.Context, op chain.Unload) (*chain.Unloaded, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	r, err := dispatcher.Open(op.Interface.Name, l.options(op.Interface))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return chain.UnloadOn(r, op, l.Actor)
}

// Detach implements Client.
func (l *Local) Detach(_ context.Context, op chain.Detach) error {
	return chain.DetachOn(op, l.options(op.Interface))
}

// Adopt implements Client.
func (l *Local) Adopt(_ context.Context, op chain.Adopt) (*dispatcher.Adopted, error) {
	return chain.AdoptOn(op, l.Actor, l.options(op.Interface))
}

// Leave implements Client.
func (l *Local) Leave(_ context.Context, op chain.Leave) (uint32, error) {
	return chain.LeaveOn(op, l.options(op.Interface))
}

// Status implements Client.
func (l *Local) Status(_ context.Context, itf *chain.Interface) (*Status, error) {
	if itf == nil {
		all, err := dispatcher.List(l.options(chain.Interface{}))
		if err != nil {
			return nil, err
		}
		return &Status{Interfaces: all}, nil
	}
	if itf.Name == "" { // a namespace's roots
		all, err := dispatcher.List(l.options(*itf))
		if err != nil {
			return nil, err
		}
		return &Status{Interfaces: all}, nil
	}
	st, err := dispatcher.StatusOf(itf.Name, l.options(*itf))
	if err != nil {
		return nil, err
	}
	return &Status{Interfaces: []dispatcher.InterfaceStatus{*st}}, nil
}

// Explain implements Client.
func (l *Local) Explain(_ context.Context, itf chain.Interface, frame []byte) (*dispatcher.Explanation, error) {
	r, err := dispatcher.Open(itf.Name, l.options(itf))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Explain(frame)
}

// Remote implements Client: false.
func (l *Local) Remote() bool { return false }

// Close implements Client.
func (l *Local) Close() error { return nil }
