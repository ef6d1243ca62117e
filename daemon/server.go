package daemon

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
)

type controlServer struct {
	controlpb.UnimplementedControlServer
	d   *Daemon
	obs observations // observe.go
}

func (s *controlServer) Status(ctx context.Context, req *controlpb.StatusRequest) (*controlpb.StatusResponse, error) {
	st, err := s.d.Status(req.GetInterface(), req.GetNetns())
	if err != nil {
		return nil, api.ErrorToStatus(err)
	}
	if p, ok := peerFrom(ctx); !ok || p.UID != 0 {
		// Settings, even redacted, are root's (who can read the config).
		for i := range st.Plugins {
			st.Plugins[i].Settings, st.Plugins[i].SecretSettings = nil, nil
		}
		st.SettingsSalt = ""
	}
	wire, err := api.StatusToProto(st)
	if err != nil {
		return nil, api.ErrorToStatus(err)
	}
	return &controlpb.StatusResponse{Status: wire}, nil
}

func (s *controlServer) Load(ctx context.Context, req *controlpb.LoadRequest) (*controlpb.LoadResponse, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	r, err := api.LoadFromProto(req)
	var l *chain.Loaded
	if err == nil {
		l, err = s.d.load(p, r)
	}
	if err != nil {
		s.d.log.Warn("load refused", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "name", req.GetName(), "error", err)
		return nil, api.ErrorToStatus(err)
	}
	s.d.log.Info("program loaded", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "netns", req.GetNetns(),
		"name", l.Name, "priority", l.Priority, "owner", l.Owner, "revision", l.Revision, "changed", l.Changed)
	return api.LoadedToProto(l), nil
}

func (s *controlServer) Unload(ctx context.Context, req *controlpb.UnloadRequest) (*controlpb.UnloadResponse, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	u, err := s.d.unload(p, api.UnloadFromProto(req))
	if err != nil {
		s.d.log.Warn("unload refused", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "names", req.GetNames(), "error", err)
		return nil, api.ErrorToStatus(err)
	}
	s.d.log.Info("programs unloaded", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "netns", req.GetNetns(), "removed", u.Removed)
	return &controlpb.UnloadResponse{Removed: u.Removed, Revision: u.Revision}, nil
}

func (s *controlServer) Detach(ctx context.Context, req *controlpb.DetachRequest) (*controlpb.DetachResponse, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	if err := s.d.detach(p, api.DetachFromProto(req)); err != nil {
		s.d.log.Warn("detach refused", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "error", err)
		return nil, api.ErrorToStatus(err)
	}
	s.d.log.Info("interface detached", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "netns", req.GetNetns())
	return &controlpb.DetachResponse{}, nil
}

func (s *controlServer) Adopt(ctx context.Context, req *controlpb.AdoptRequest) (*controlpb.AdoptResponse, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	op, err := api.AdoptFromProto(req)
	var ad *dispatcher.Adopted
	if err == nil {
		ad, err = s.d.adopt(p, op)
	}
	if err != nil {
		s.d.log.Warn("adopt refused", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "error", err)
		return nil, api.ErrorToStatus(err)
	}
	s.d.log.Info("program adopted", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "netns", req.GetNetns(), "name", ad.Name, "program_id", ad.ID)
	return api.AdoptedToProto(ad), nil
}

func (s *controlServer) Leave(ctx context.Context, req *controlpb.LeaveRequest) (*controlpb.LeaveResponse, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	id, err := s.d.leave(p, api.LeaveFromProto(req))
	if err != nil {
		s.d.log.Warn("leave refused", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "error", err)
		return nil, api.ErrorToStatus(err)
	}
	s.d.log.Info("interface left to netlink", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "netns", req.GetNetns(), "name", req.GetName(), "program_id", id)
	return &controlpb.LeaveResponse{ProgramId: id}, nil
}

func (s *controlServer) Explain(ctx context.Context, req *controlpb.ExplainRequest) (*controlpb.ExplainResponse, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	itf, frame := api.ExplainFromProto(req)
	ex, err := s.d.explain(p, itf, frame)
	if err != nil {
		return nil, api.ErrorToStatus(err)
	}
	return api.ExplanationToProto(ex), nil
}

// explain runs a frame through an interface's chain for a socket request:
// root only, since the programs run on their live maps.
func (d *Daemon) explain(p Peer, itf chain.Interface, frame []byte) (*dispatcher.Explanation, error) {
	if p.UID != 0 {
		return nil, fmt.Errorf("%w: explain runs the chain's programs on their live maps: root only (uid %d asked)", chain.ErrPermission, p.UID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := dispatcher.Open(itf.Name, &dispatcher.Options{NetNS: itf.NetNS, BPFFS: d.cfg.Daemon.BPFFS, StateDir: d.cfg.Daemon.StateDir})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Explain(frame)
}

func (s *controlServer) Reload(ctx context.Context, _ *controlpb.ReloadRequest) (*controlpb.ReloadResponse, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	if p.UID != 0 {
		return nil, api.ErrorToStatus(fmt.Errorf("%w: only root may reload the daemon's config (uid %d asked)", chain.ErrPermission, p.UID))
	}
	s.d.log.Info("reload asked for", "uid", p.UID, "pid", p.PID)
	res, err := s.d.requestReload(ctx)
	if err != nil {
		return nil, api.ErrorToStatus(err)
	}
	return api.ReloadToProto(res), nil
}

// requestRoot returns the root of an interface for a socket request, and a
// function to release it. Config interfaces use the daemon's roots (a
// handle of their own when the request wants verifier logs, or the daemon
// has none); root may also reach other interfaces, opened with open.
func (d *Daemon) requestRoot(p Peer, itf chain.Interface, verifierLogs bool, open func(*dispatcher.Options) (*dispatcher.Root, error)) (*dispatcher.Root, func(), error) {
	if c := d.cfg.Interface(itf.String()); c != nil {
		if r := d.roots[c.Ref()]; r != nil && !verifierLogs {
			return r, func() {}, nil
		}
		// A handle of the request's own: with verifier logs, or when the
		// daemon holds none (the interface was missing when it applied).
		opts := d.cfg.Options(c)
		opts.VerifierLogs = verifierLogs
		r, err := dispatcher.Open(itf.Name, opts)
		if err != nil {
			return nil, nil, err
		}
		return r, func() { r.Close() }, nil
	}
	if p.UID != 0 {
		return nil, nil, fmt.Errorf("%w: interface %q is not in the daemon's config", chain.ErrPermission, itf)
	}
	r, err := open(&dispatcher.Options{NetNS: itf.NetNS, BPFFS: d.cfg.Daemon.BPFFS, StateDir: d.cfg.Daemon.StateDir, VerifierLogs: verifierLogs})
	if err != nil {
		return nil, nil, err
	}
	return r, func() { r.Close() }, nil
}

// actor is the peer as a chain editor.
func (p Peer) actor() chain.Actor { return chain.Actor{UID: p.UID} }

// load performs a Load request for the peer: the same operation as a load
// without a daemon, with the peer's grants checked on the program as it is
// placed.
func (d *Daemon) load(p Peer, req chain.LoadRequest) (*chain.Loaded, error) {
	a := p.actor()
	d.mu.Lock()
	err := admitLoad(d.cfg, p, req)
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	op, err := req.Edit(a.Owner())
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	root, release, err := d.requestRoot(p, op.Interface, req.VerifierLog, func(o *dispatcher.Options) (*dispatcher.Root, error) {
		o.Mode = req.Mode
		return chain.OpenForLoad(op, a, o)
	})
	if err != nil {
		return nil, err
	}
	defer release()
	return chain.LoadOn(root, op, a, func(prog dispatcher.Program) (dispatcher.Program, error) {
		// A user's program is verified as the kernel would verify it for
		// that user: no kernel pointers leak through it (docs/config.md).
		prog.Unprivileged = p.UID != 0
		return authorizeLoad(d.cfg.Grants, p, op.Interface.String(), prog)
	})
}

// unload performs an Unload request for the peer.
func (d *Daemon) unload(p Peer, op chain.Unload) (*chain.Unloaded, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	root, release, err := d.requestRoot(p, op.Interface, false, func(o *dispatcher.Options) (*dispatcher.Root, error) {
		return dispatcher.Open(op.Interface.Name, o)
	})
	if err != nil {
		return nil, err
	}
	defer release()
	return chain.UnloadOn(root, op, p.actor())
}

// detach performs a Detach request: root only, and not on an interface of
// the config, whose root the daemon keeps.
func (d *Daemon) detach(p Peer, op chain.Detach) error {
	return d.outsideConfig(p, "detach", op.Interface, func(o *dispatcher.Options) error { return chain.DetachOn(op, o) })
}

// adopt performs an Adopt request, as detach: root only, outside the
// config. The program is owned by the caller.
func (d *Daemon) adopt(p Peer, op chain.Adopt) (ad *dispatcher.Adopted, err error) {
	err = d.outsideConfig(p, "adopt", op.Interface, func(o *dispatcher.Options) (err error) {
		ad, err = chain.AdoptOn(op, p.actor(), o)
		return err
	})
	return ad, err
}

// leave performs a Leave request, as detach.
func (d *Daemon) leave(p Peer, op chain.Leave) (id uint32, err error) {
	err = d.outsideConfig(p, "leave", op.Interface, func(o *dispatcher.Options) (err error) {
		id, err = chain.LeaveOn(op, o)
		return err
	})
	return id, err
}

// outsideConfig runs fn, a change of a whole interface, for root on an
// interface the config does not name (its root follows the config), with
// the daemon's lock held.
func (d *Daemon) outsideConfig(p Peer, verb string, itf chain.Interface, fn func(*dispatcher.Options) error) error {
	if p.UID != 0 {
		return fmt.Errorf("%w: only root may %s an interface", chain.ErrPermission, verb)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg.Interface(itf.String()) != nil {
		return fmt.Errorf("%w: interface %s follows the daemon's config; remove it there (and reload) to %s it", chain.ErrOwned, itf, verb)
	}
	return fn(&dispatcher.Options{NetNS: itf.NetNS, BPFFS: d.cfg.Daemon.BPFFS, StateDir: d.cfg.Daemon.StateDir})
}
