package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// codeOf pairs sentinel errors with the status codes that carry them over
// the socket; the Client maps them back.
var codeOf = []struct {
	err  error
	code codes.Code
}{
	{ErrPermission, codes.PermissionDenied},
	{ErrOwned, codes.AlreadyExists},
	{dispatcher.ErrNotFound, codes.NotFound},
	{dispatcher.ErrInvalid, codes.InvalidArgument},
	{dispatcher.ErrLoad, codes.FailedPrecondition},
	{dispatcher.ErrNotAttached, codes.Unavailable},
	{dispatcher.ErrForeignProgram, codes.Aborted},
}

func toStatus(err error) error {
	if err == nil {
		return nil
	}
	for _, c := range codeOf {
		if errors.Is(err, c.err) {
			return status.Error(c.code, err.Error())
		}
	}
	return status.Error(codes.Unknown, err.Error())
}

type controlServer struct {
	controlpb.UnimplementedControlServer
	d *Daemon
}

func (s *controlServer) Status(_ context.Context, req *controlpb.StatusRequest) (*controlpb.StatusResponse, error) {
	st, err := s.d.Status(req.GetInterface(), req.GetNetns())
	if err != nil {
		return nil, toStatus(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, toStatus(err)
	}
	return &controlpb.StatusResponse{StatusJson: b}, nil
}

func (s *controlServer) Load(ctx context.Context, req *controlpb.LoadRequest) (*controlpb.LoadResponse, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	prog, err := s.d.load(p, req)
	if err != nil {
		s.d.log.Warn("load refused", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "name", req.GetName(), "error", err)
		return nil, toStatus(err)
	}
	s.d.log.Info("program loaded", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "netns", req.GetNetns(),
		"name", prog.Name, "priority", prog.Priority, "owner", prog.Owner)
	return &controlpb.LoadResponse{Name: prog.Name, Priority: int32(prog.Priority), Owner: prog.Owner, Allowed: uint32(prog.Allowed)}, nil
}

func (s *controlServer) Unload(ctx context.Context, req *controlpb.UnloadRequest) (*controlpb.UnloadResponse, error) {
	p, ok := peerFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer credentials")
	}
	removed, err := s.d.unload(p, req)
	if err != nil {
		s.d.log.Warn("unload refused", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "names", req.GetNames(), "error", err)
		return nil, toStatus(err)
	}
	s.d.log.Info("programs unloaded", "uid", p.UID, "pid", p.PID, "interface", req.GetInterface(), "netns", req.GetNetns(), "removed", removed)
	return &controlpb.UnloadResponse{Removed: removed}, nil
}

// managedInterface returns the config interface itf, or nil.
func (d *Daemon) managedInterface(itf chain.Interface) *config.Interface {
	return d.cfg.Interface(itf.String())
}

// root returns the root of an interface for a socket request, and a
// function to release it. Config interfaces use the daemon's roots; root
// may also reach other interfaces (attach says whether to create the root).
func (d *Daemon) root(p Peer, itf chain.Interface, mode dispatcher.Mode, attach bool) (*dispatcher.Root, func(), error) {
	if c := d.managedInterface(itf); c != nil {
		return d.roots[c.Ref()], func() {}, nil
	}
	if p.UID != 0 {
		return nil, nil, fmt.Errorf("%w: interface %q is not in the daemon's config", ErrPermission, itf)
	}
	opts := &dispatcher.Options{NetNS: itf.NetNS, BPFFS: d.cfg.Daemon.BPFFS, StateDir: d.cfg.Daemon.StateDir, Mode: mode}
	open := dispatcher.Open
	if attach {
		open = dispatcher.Attach
	}
	r, err := open(itf.Name, opts)
	if err != nil {
		return nil, nil, err
	}
	return r, func() { r.Close() }, nil
}

// actor is the peer as a chain editor.
func (p Peer) actor() chain.Actor { return chain.Actor{UID: p.UID} }

// load performs a Load request for the peer.
func (d *Daemon) load(p Peer, req *controlpb.LoadRequest) (dispatcher.Program, error) {
	if req.GetInterface() == "" {
		return dispatcher.Program{}, fmt.Errorf("%w: no interface", dispatcher.ErrInvalid)
	}
	itf := chain.NewInterface(req.GetNetns(), req.GetInterface())
	prog, err := dispatcher.NewProgram(req.GetName(), req.GetObject(), req.GetProgramName())
	if err != nil {
		return prog, err
	}
	var ov chain.Overrides
	if req.Priority != nil {
		v := int(req.GetPriority())
		ov.Priority = &v
	}
	if req.ProceedOn != nil {
		v := dispatcher.VerdictSet(req.GetProceedOn())
		ov.ProceedOn = &v
	}
	if req.Allowed != nil {
		v := dispatcher.VerdictSet(req.GetAllowed())
		ov.Allowed = &v
	}
	shadow := req.GetShadow()
	ov.Shadow = &shadow
	if prog, err = ov.Apply(prog); err != nil {
		return prog, &dispatcher.ProgramError{Program: prog.Name, Err: err}
	}
	prog.Owner = p.actor().Owner().String()
	// A user's program is verified as the kernel would verify it for that
	// user: no kernel pointers leak through it (docs/config.md).
	prog.Unprivileged = p.UID != 0
	mode := dispatcher.Mode(req.GetMode())

	d.mu.Lock()
	defer d.mu.Unlock()
	root, release, err := d.root(p, itf, mode, true)
	if err != nil {
		return prog, err
	}
	defer release()
	if prog, err = authorizeLoad(d.cfg.Grants, p, itf.String(), prog); err != nil {
		return prog, err
	}
	op := chain.Load{Interface: itf, Program: prog, Replace: true, Force: req.GetForce()}
	_, err = root.Update(func(s *dispatcher.Spec) error { return op.Apply(s, p.actor()) })
	return prog, err
}

// unload performs an Unload request for the peer.
func (d *Daemon) unload(p Peer, req *controlpb.UnloadRequest) ([]string, error) {
	op := chain.Unload{Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()), Names: req.GetNames(), All: req.GetAll(), Force: req.GetForce()}
	if err := op.Validate(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	root, release, err := d.root(p, op.Interface, "", false)
	if err != nil {
		return nil, err
	}
	defer release()
	var removed []string
	_, err = root.Update(func(s *dispatcher.Spec) error {
		var err error
		removed, err = op.Apply(s, p.actor())
		return err
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}
