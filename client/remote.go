package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Remote asks a running daemon over its control socket; the daemon knows
// the caller from the socket (SO_PEERCRED) and applies its grants. It is the
// one client of the daemon: requests and answers cross the socket through
// package api's translation, errors included (they wrap the same sentinels
// as on the pins).
type Remote struct {
	conn *grpc.ClientConn
	c    controlpb.ControlClient
}

// Dial connects to the daemon's control socket (config.DefaultSocket when
// socket is empty). It returns an error wrapping api.ErrNotRunning when no
// daemon listens there, so that callers can fall back to the pins.
func Dial(socket string) (*Remote, error) {
	if socket == "" {
		socket = config.DefaultSocket
	}
	probe, err := net.DialTimeout("unix", socket, 2*time.Second)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%w: %s", api.ErrNotRunning, socket)
		}
		return nil, fmt.Errorf("connecting to the daemon: %w", err)
	}
	probe.Close()
	conn, err := grpc.Dial("unix:"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(api.MaxMessage), grpc.MaxCallRecvMsgSize(api.MaxMessage)),
	)
	if err != nil {
		return nil, fmt.Errorf("connecting to the daemon: %w", err)
	}
	return &Remote{conn: conn, c: controlpb.NewControlClient(conn)}, nil
}

// Load implements Client: the same operation as chain.LoadOn on the pins,
// with the caller's grants. Errors wrap chain.ErrPermission, chain.ErrOwned,
// chain.ErrExists, chain.ErrStale, dispatcher.ErrInvalid,
// dispatcher.ErrLoad, ...; a rejected program's error is a
// *dispatcher.ProgramError (with the verifier's log when asked for).
func (r *Remote) Load(ctx context.Context, req chain.LoadRequest) (*chain.Loaded, error) {
	resp, err := r.c.Load(ctx, api.LoadToProto(req))
	if err != nil {
		return nil, api.ErrorFromStatus(err)
	}
	return api.LoadedFromProto(resp), nil
}

// Unload implements Client.
func (r *Remote) Unload(ctx context.Context, op chain.Unload) (*chain.Unloaded, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	resp, err := r.c.Unload(ctx, api.UnloadToProto(op))
	if err != nil {
		return nil, api.ErrorFromStatus(err)
	}
	return &chain.Unloaded{Removed: resp.GetRemoved(), Revision: resp.GetRevision()}, nil
}

// Detach implements Client.
func (r *Remote) Detach(ctx context.Context, op chain.Detach) error {
	if _, err := r.c.Detach(ctx, api.DetachToProto(op)); err != nil {
		return api.ErrorFromStatus(err)
	}
	return nil
}

// Adopt implements Client.
func (r *Remote) Adopt(ctx context.Context, op chain.Adopt) (*dispatcher.Adopted, error) {
	resp, err := r.c.Adopt(ctx, api.AdoptToProto(op))
	if err != nil {
		return nil, api.ErrorFromStatus(err)
	}
	return api.AdoptedFromProto(resp), nil
}

// Leave implements Client.
func (r *Remote) Leave(ctx context.Context, op chain.Leave) (uint32, error) {
	resp, err := r.c.Leave(ctx, api.LeaveToProto(op))
	if err != nil {
		return 0, api.ErrorFromStatus(err)
	}
	return resp.GetProgramId(), nil
}

// Status implements Client; Status.Daemon is the daemon's status (config
// file, plugin processes).
func (r *Remote) Status(ctx context.Context, itf *chain.Interface) (*Status, error) {
	var name, netns string
	if itf != nil {
		name, netns = itf.Name, itf.NetNS
	}
	resp, err := r.c.Status(ctx, &controlpb.StatusRequest{Interface: name, Netns: netns})
	if err != nil {
		return nil, api.ErrorFromStatus(err)
	}
	st, err := api.StatusFromProto(resp)
	if err != nil {
		return nil, err
	}
	if name != "" && len(st.Interfaces) == 0 {
		// As Local: the interface has no root.
		return nil, fmt.Errorf("%w %q", dispatcher.ErrNotAttached, name)
	}
	return &Status{Interfaces: st.Interfaces, Daemon: st}, nil
}

// Explain implements Client (root only through a daemon).
func (r *Remote) Explain(ctx context.Context, itf chain.Interface, frame []byte) (*dispatcher.Explanation, error) {
	resp, err := r.c.Explain(ctx, api.ExplainToProto(itf, frame))
	if err != nil {
		return nil, api.ErrorFromStatus(err)
	}
	return api.ExplanationFromProto(resp), nil
}

// Reload asks the daemon to re-read its config file and apply it, and waits
// for the outcome: an error wrapping api.ErrReload says why it was refused
// (the previous config stays in force).
func (r *Remote) Reload(ctx context.Context) (*api.ReloadResult, error) {
	resp, err := r.c.Reload(ctx, &controlpb.ReloadRequest{})
	if err != nil {
		return nil, api.ErrorFromStatus(err)
	}
	return api.ReloadFromProto(resp), nil
}

// Remote implements Client: true.
func (r *Remote) Remote() bool { return true }

// Close implements Client.
func (r *Remote) Close() error { return r.conn.Close() }

// remoteObservation is an observation the daemon runs for this client: it
// lasts until Close, the end of the context given to Observe, or this
// process's death (the daemon sees the connection go).
type remoteObservation struct {
	r      *Remote
	ctx    context.Context
	cancel context.CancelFunc
	stream controlpb.Control_ObserveClient
	id     string
	probe  dispatcher.Probe
	lost   uint64
}

// Observe implements Client.
func (r *Remote) Observe(ctx context.Context, itf chain.Interface, p dispatcher.Probe) (Observer, error) {
	// The call lasts until Close; ctx's end stops a capture or trace
	// at once (the daemon ends it when the call goes), while a profile
	// still answers Profile.
	sctx, cancel := context.WithCancel(context.Background())
	stream, err := r.c.Observe(sctx, &controlpb.ObserveRequest{Interface: itf.Name, Netns: itf.NetNS, Probe: api.ProbeToProto(p)})
	if err != nil {
		cancel()
		return nil, api.ErrorFromStatus(err)
	}
	first, err := stream.Recv()
	if err != nil {
		cancel()
		return nil, api.ErrorFromStatus(err)
	}
	o := &remoteObservation{r: r, ctx: ctx, cancel: cancel, stream: stream, id: first.GetId(), probe: api.ProbeFromProto(first.GetProbe())}
	if o.probe.Kind != dispatcher.ProbeProfile {
		stop := context.AfterFunc(ctx, cancel)
		o.cancel = func() { stop(); cancel() }
	}
	return o, nil
}

// Probe implements Observer.
func (o *remoteObservation) Probe() dispatcher.Probe { return o.probe }

// Next implements Observer: the context's error when it ended,
// os.ErrClosed when the observation did.
func (o *remoteObservation) Next() (dispatcher.Event, error) {
	m, err := o.stream.Recv()
	if err != nil {
		if o.ctx.Err() != nil {
			return dispatcher.Event{}, o.ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			return dispatcher.Event{}, os.ErrClosed
		}
		return dispatcher.Event{}, api.ErrorFromStatus(err)
	}
	o.lost = m.GetLost()
	return api.EventFromProto(m.GetEvent()), nil
}

// Profile implements Observer.
func (o *remoteObservation) Profile(ctx context.Context) (*dispatcher.Profile, error) {
	resp, err := o.r.c.ObserveProfile(ctx, &controlpb.ObserveRef{Id: o.id})
	if err != nil {
		return nil, api.ErrorFromStatus(err)
	}
	return api.ProfileFromProto(resp), nil
}

// Lost implements Observer.
func (o *remoteObservation) Lost() uint64 { return o.lost }

// Lease implements Observer: nil, the daemon holds the lease.
func (o *remoteObservation) Lease() *os.File { return nil }

// Close implements Observer; when it returns, the chain runs without the
// observation's probes.
func (o *remoteObservation) Close() error {
	defer o.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
	defer cancel()
	_, err := o.r.c.ObserveEnd(ctx, &controlpb.ObserveRef{Id: o.id})
	if err == nil {
		return nil
	}
	if err = api.ErrorFromStatus(err); errors.Is(err, dispatcher.ErrNotFound) {
		return nil // it ended with the call (ctx)
	}
	return err
}

// endTimeout bounds ending an observation (one swap).
const endTimeout = 2 * time.Minute
