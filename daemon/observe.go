package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Observations through the daemon (docs/operations.md, "Seeing inside the
// chain"): the daemon holds the observation's lease for as long as the
// caller's Observe call lasts, so a caller that dies (its connection goes)
// ends it at once.

// observations are the observations the control server runs, by id.
type observations struct {
	mu sync.Mutex
	m  map[string]*observing
}

// observing is one caller's observation.
type observing struct {
	uid  uint32
	o    *dispatcher.Observation
	end  func() error
	done chan struct{} // closed when it ended
}

func (obs *observations) add(ob *observing) {
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.m == nil {
		obs.m = map[string]*observing{}
	}
	obs.m[ob.o.ID()] = ob
}

func (obs *observations) remove(id string) {
	obs.mu.Lock()
	defer obs.mu.Unlock()
	delete(obs.m, id)
}

// get returns the peer's observation id (root may name anyone's).
func (obs *observations) get(p Peer, id string) (*observing, error) {
	obs.mu.Lock()
	defer obs.mu.Unlock()
	ob := obs.m[id]
	if ob == nil || (p.UID != 0 && ob.uid != p.UID) {
		return nil, fmt.Errorf("%w: no observation %q of yours", dispatcher.ErrNotFound, id)
	}
	return ob, nil
}

func (s *controlServer) Observe(req *controlpb.ObserveRequest, stream controlpb.Control_ObserveServer) error {
	ctx := stream.Context()
	p, ok := peerFrom(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "no peer credentials")
	}
	probe := api.ProbeFromProto(req.GetProbe())
	itf := chain.NewInterface(req.GetNetns(), req.GetInterface())
	r, err := s.d.observeRoot(p, itf)
	if err != nil {
		return api.ErrorToStatus(err)
	}
	defer r.Close()
	if probe, err = authorizeObserve(r, itf, p, probe); err != nil {
		s.d.log.Warn("observation refused", "uid", p.UID, "pid", p.PID, "interface", itf, "kind", probe.Kind, "error", err)
		return api.ErrorToStatus(err)
	}
	o, err := r.Observe(probe)
	if err != nil {
		return api.ErrorToStatus(err)
	}
	ob := &observing{uid: p.UID, o: o, done: make(chan struct{})}
	ob.end = sync.OnceValue(func() error {
		defer close(ob.done)
		return o.Close()
	})
	s.obs.add(ob)
	defer func() {
		// Ended before it is forgotten: an ObserveEnd that finds it
		// waits for the end, one that does not finds it ended.
		if err := ob.end(); err != nil {
			s.d.log.Warn("ending an observation", "interface", itf, "id", o.ID(), "error", err)
		}
		s.obs.remove(o.ID())
		s.d.log.Info("observation ended", "uid", p.UID, "interface", itf, "id", o.ID())
	}()
	stop := context.AfterFunc(ctx, o.Stop)
	defer stop()
	s.d.log.Info("observing", "uid", p.UID, "pid", p.PID, "interface", itf, "id", o.ID(), "kind", probe.Kind, "program", probe.Program)

	if err := stream.Send(&controlpb.ObserveEvent{Id: o.ID(), Probe: api.ProbeToProto(o.Probe())}); err != nil {
		return err
	}
	if probe.Kind == dispatcher.ProbeProfile {
		select {
		case <-ctx.Done():
		case <-ob.done:
		}
		return nil
	}
	for {
		e, err := o.Read()
		if errors.Is(err, os.ErrClosed) {
			return nil // the caller went, or ended it
		}
		if err != nil {
			return api.ErrorToStatus(err)
		}
		if err := stream.Send(&controlpb.ObserveEvent{Event: api.EventToProto(e), Lost: o.Lost()}); err != nil {
			return err
		}
	}
}

// observation returns the caller's observation ref names.
func (s *controlServer) observation(ctx context.Context, ref *controlpb.ObserveRef) (*observing, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	ob, err := s.obs.get(p, ref.GetId())
	if err != nil {
		return nil, api.ErrorToStatus(err)
	}
	return ob, nil
}

func (s *controlServer) ObserveProfile(ctx context.Context, req *controlpb.ObserveRef) (*controlpb.ObserveProfileResponse, error) {
	ob, err := s.observation(ctx, req)
	if err != nil {
		return nil, err
	}
	prof, err := ob.o.Profile()
	if err != nil {
		return nil, api.ErrorToStatus(err)
	}
	return api.ProfileToProto(prof), nil
}

func (s *controlServer) ObserveEnd(ctx context.Context, req *controlpb.ObserveRef) (*controlpb.ObserveEndResponse, error) {
	ob, err := s.observation(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := ob.end(); err != nil {
		return nil, api.ErrorToStatus(err)
	}
	return &controlpb.ObserveEndResponse{}, nil
}

// observeRoot opens a handle of the interface's root for an observation:
// an interface of the daemon's config, or, for root, any.
func (d *Daemon) observeRoot(p Peer, itf chain.Interface) (*dispatcher.Root, error) {
	d.mu.Lock()
	var opts *dispatcher.Options
	if c := d.cfg.Interface(itf.String()); c != nil {
		opts = d.cfg.Options(c)
	} else if p.UID == 0 {
		opts = &dispatcher.Options{NetNS: itf.NetNS, BPFFS: d.cfg.Daemon.BPFFS, StateDir: d.cfg.Daemon.StateDir}
	}
	d.mu.Unlock()
	if opts == nil {
		return nil, fmt.Errorf("%w: interface %q is not in the daemon's config", chain.ErrPermission, itf)
	}
	return dispatcher.Open(itf.Name, opts)
}

// authorizeObserve decides whether the peer may observe what p asks on r's
// chain: root anything; another user only programs it loaded — a capture
// of one of them, a profile of them (all of them when p names none) — and
// no trace, which shows every program's decisions. It returns the probe
// as it may run.
func authorizeObserve(r *dispatcher.Root, itf chain.Interface, peer Peer, p dispatcher.Probe) (dispatcher.Probe, error) {
	if peer.UID == 0 {
		return p, nil
	}
	spec, err := r.Spec()
	if err != nil {
		return p, err
	}
	owner := peer.actor().Owner().String()
	var mine []string
	for _, prog := range spec.Programs {
		if prog.Owner == owner {
			mine = append(mine, prog.Name)
		}
	}
	notMine := func(name string) error {
		return fmt.Errorf("%w: uid %d may observe only its own programs, and %q is not one of them", chain.ErrPermission, peer.UID, name)
	}
	switch p.Kind {
	case dispatcher.ProbeTrace:
		return p, fmt.Errorf("%w: a trace shows every program's decisions; only root may trace (profile or dump your own programs instead)", chain.ErrPermission)
	case dispatcher.ProbeCapture:
		if p.Program == "" {
			return p, fmt.Errorf("%w: the chain's input is every program's traffic; only root may capture it (name one of your programs)", chain.ErrPermission)
		}
		if !slices.Contains(mine, p.Program) && spec.Programs.Index(p.Program) >= 0 {
			return p, notMine(p.Program)
		}
	case dispatcher.ProbeProfile:
		if len(p.Programs) == 0 {
			if len(mine) == 0 {
				return p, fmt.Errorf("%w: uid %d has no program on %s to profile", chain.ErrPermission, peer.UID, itf)
			}
			p.Programs = mine
		}
		for _, n := range p.Programs {
			if !slices.Contains(mine, n) && spec.Programs.Index(n) >= 0 {
				return p, notMine(n)
			}
		}
	}
	return p, nil
}
