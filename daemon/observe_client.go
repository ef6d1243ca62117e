package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Observation is an observation the daemon runs for this client: it lasts
// until Close, the end of the context given to Observe, or this process's
// death (the daemon sees the connection go).
type Observation struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	stream controlpb.Control_ObserveClient
	id     string
	probe  dispatcher.Probe
	lost   uint64
}

// Observe asks the daemon to observe an interface's chain.
func (c *Client) Observe(ctx context.Context, itf chain.Interface, p dispatcher.Probe) (*Observation, error) {
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	// The call lasts until Close; ctx's end stops a capture or trace
	// at once (the daemon ends it when the call goes), while a profile
	// still answers Profile.
	sctx, cancel := context.WithCancel(context.Background())
	stream, err := c.c.Observe(sctx, &controlpb.ObserveRequest{Interface: itf.Name, Netns: itf.NetNS, ProbeJson: pj})
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	first, err := stream.Recv()
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	o := &Observation{c: c, ctx: ctx, cancel: cancel, stream: stream, id: first.GetId()}
	if err := json.Unmarshal(first.GetProbeJson(), &o.probe); err != nil {
		o.Close()
		return nil, fmt.Errorf("the daemon's observation: %w", err)
	}
	if o.probe.Kind != dispatcher.ProbeProfile {
		stop := context.AfterFunc(ctx, cancel)
		o.cancel = func() { stop(); cancel() }
	}
	return o, nil
}

// Probe is what the observation observes, its defaults filled.
func (o *Observation) Probe() dispatcher.Probe { return o.probe }

// Next returns the next event of a capture or trace; the context's error
// when it ended, os.ErrClosed when the observation did.
func (o *Observation) Next() (dispatcher.Event, error) {
	m, err := o.stream.Recv()
	if err != nil {
		if o.ctx.Err() != nil {
			return dispatcher.Event{}, o.ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			return dispatcher.Event{}, os.ErrClosed
		}
		return dispatcher.Event{}, fromStatus(err)
	}
	var e dispatcher.Event
	if err := json.Unmarshal(m.GetEventJson(), &e); err != nil {
		return e, fmt.Errorf("an event from the daemon: %w", err)
	}
	o.lost = m.GetLost()
	return e, nil
}

// Profile returns what a profile measured so far.
func (o *Observation) Profile(ctx context.Context) (*dispatcher.Profile, error) {
	resp, err := o.c.c.ObserveProfile(ctx, &controlpb.ObserveRef{Id: o.id})
	if err != nil {
		return nil, fromStatus(err)
	}
	var p dispatcher.Profile
	if err := json.Unmarshal(resp.GetProfileJson(), &p); err != nil {
		return nil, fmt.Errorf("the daemon's profile: %w", err)
	}
	return &p, nil
}

// Lost is how many records the observation's buffer dropped so far.
func (o *Observation) Lost() uint64 { return o.lost }

// Lease is nil: the daemon holds the lease.
func (o *Observation) Lease() *os.File { return nil }

// Close ends the observation; when it returns, the chain runs without its
// probes.
func (o *Observation) Close() error {
	defer o.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
	defer cancel()
	_, err := o.c.c.ObserveEnd(ctx, &controlpb.ObserveRef{Id: o.id})
	if err == nil {
		return nil
	}
	if err = fromStatus(err); errors.Is(err, dispatcher.ErrNotFound) {
		return nil // it ended with the call (ctx)
	}
	return err
}

// endTimeout bounds ending an observation (one swap).
const endTimeout = 2 * time.Minute
