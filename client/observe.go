package client

import (
	"context"
	"errors"
	"os"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Observer is one live observation of a chain (Client.Observe): while it is
// open, the chain runs a generation with its probes.
type Observer interface {
	// Probe is what the observation observes, its defaults filled.
	Probe() dispatcher.Probe
	// Next returns the next event of a capture or a trace. When the
	// context given to Client.Observe ends, the observation stops
	// delivering events and Next returns that context's error.
	Next() (dispatcher.Event, error)
	// Profile returns what a profile observed since it started.
	Profile(ctx context.Context) (*dispatcher.Profile, error)
	// Lost is how many records the buffer dropped so far.
	Lost() uint64
	// Lease is the local observation's lease file (nil through a
	// daemon, which holds the lease itself): a process that inherits it
	// and outlives the caller can end the observation when the caller
	// dies (dispatcher.Root.EndObservations).
	Lease() *os.File
	// Close ends the observation: the plain generation (or one with the
	// other observers' probes) runs again.
	Close() error
}

// Observe implements Client.
func (l *Local) Observe(ctx context.Context, itf chain.Interface, p dispatcher.Probe) (Observer, error) {
	r, err := dispatcher.Open(itf.Name, l.options(itf))
	if err != nil {
		return nil, err
	}
	o, err := r.Observe(p)
	if err != nil {
		r.Close()
		return nil, err
	}
	lo := &localObserver{ctx: ctx, r: r, o: o}
	lo.stop = context.AfterFunc(ctx, o.Stop)
	return lo, nil
}

// localObserver is an Observation on the pins.
type localObserver struct {
	ctx  context.Context
	r    *dispatcher.Root
	o    *dispatcher.Observation
	stop func() bool
}

func (l *localObserver) Next() (dispatcher.Event, error) {
	e, err := l.o.Read()
	if errors.Is(err, os.ErrClosed) && l.ctx.Err() != nil {
		return e, l.ctx.Err()
	}
	return e, err
}

func (l *localObserver) Profile(context.Context) (*dispatcher.Profile, error) { return l.o.Profile() }
func (l *localObserver) Probe() dispatcher.Probe                              { return l.o.Probe() }
func (l *localObserver) Lost() uint64                                         { return l.o.Lost() }
func (l *localObserver) Lease() *os.File                                      { return l.o.Lease() }

func (l *localObserver) Close() error {
	l.stop()
	err := l.o.Close()
	l.r.Close()
	return err
}
