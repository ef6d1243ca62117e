package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// managedInterface returns the config interface called name in netns, or
// nil.
func (d *Daemon) managedInterface(name, netns string) *config.Interface {
	for i := range d.cfg.Interfaces {
		if itf := &d.cfg.Interfaces[i]; itf.Name == name && itf.NetNS == netns {
			return itf
		}
	}
	return nil
}

// root returns the root of an interface for a socket request, and a
// function to release it. Config interfaces use the daemon's roots; root
// may also reach other interfaces (attach says whether to create the root).
func (d *Daemon) root(p Peer, name, netns string, mode dispatcher.Mode, attach bool) (*dispatcher.Root, string, func(), error) {
	if itf := d.managedInterface(name, netns); itf != nil {
		return d.roots[itf.Ref()], itf.Ref(), func() {}, nil
	}
	ref := name
	if netns != "" {
		ref = netns + "/" + name
	}
	if p.UID != 0 {
		return nil, ref, nil, fmt.Errorf("%w: interface %q is not in the daemon's config", ErrPermission, ref)
	}
	opts := &dispatcher.Options{NetNS: netns, BPFFS: d.cfg.Daemon.BPFFS, StateDir: d.cfg.Daemon.StateDir, Mode: mode}
	open := dispatcher.Open
	if attach {
		open = dispatcher.Attach
	}
	r, err := open(name, opts)
	if err != nil {
		return nil, ref, nil, err
	}
	return r, ref, func() { r.Close() }, nil
}

// load performs a Load request for the peer.
func (d *Daemon) load(p Peer, req *controlpb.LoadRequest) (dispatcher.Program, error) {
	if req.GetInterface() == "" {
		return dispatcher.Program{}, fmt.Errorf("%w: no interface", dispatcher.ErrInvalid)
	}
	prog, err := dispatcher.NewProgram(req.GetName(), req.GetObject(), req.GetProgramName())
	if err != nil {
		return prog, err
	}
	if req.Priority != nil {
		prog.Priority = int(req.GetPriority())
	}
	if req.ProceedOn != nil {
		prog.ProceedOn = dispatcher.VerdictSet(req.GetProceedOn())
	}
	if req.Allowed != nil {
		prog.Allowed = dispatcher.VerdictSet(req.GetAllowed())
	}
	prog.Shadow = req.GetShadow()
	prog.Owner = UserOwner(p.UID)
	// A user's program is verified as the kernel would verify it for that
	// user: no kernel pointers leak through it (docs/config.md).
	prog.Unprivileged = p.UID != 0
	mode := dispatcher.Mode(req.GetMode())

	d.mu.Lock()
	defer d.mu.Unlock()
	root, ref, release, err := d.root(p, req.GetInterface(), req.GetNetns(), mode, true)
	if err != nil {
		return prog, err
	}
	defer release()
	if prog, err = authorizeLoad(d.cfg.Grants, p, ref, prog); err != nil {
		return prog, err
	}
	err = root.Update(func(s *dispatcher.Spec) error {
		i := s.Programs.Index(prog.Name)
		if i < 0 {
			s.Programs = append(s.Programs, prog)
			return nil
		}
		if err := mayReplace(p, s.Programs[i].Owner, req.GetForce()); err != nil {
			return fmt.Errorf("program %q on %s: %w", prog.Name, ref, err)
		}
		s.Programs[i] = prog
		return nil
	})
	return prog, err
}

// mayReplace decides whether the peer may replace or remove a program of
// owner. The daemon's own programs follow the config: nobody replaces them
// through the socket.
func mayReplace(p Peer, owner string, force bool) error {
	if daemonOwned(owner) {
		if p.UID == 0 {
			return fmt.Errorf("%w (%s): it follows the daemon's config; change the config", ErrOwned, owner)
		}
		return fmt.Errorf("%w: the program belongs to %s", ErrPermission, owner)
	}
	return mayRemove(p, owner, force)
}

// unload performs an Unload request for the peer.
func (d *Daemon) unload(p Peer, req *controlpb.UnloadRequest) ([]string, error) {
	if req.GetAll() == (len(req.GetNames()) > 0) {
		return nil, fmt.Errorf("%w: give names or all", dispatcher.ErrInvalid)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	root, ref, release, err := d.root(p, req.GetInterface(), req.GetNetns(), "", false)
	if err != nil {
		return nil, err
	}
	defer release()
	var removed []string
	err = root.Update(func(s *dispatcher.Spec) error {
		removed = nil
		var keep dispatcher.Chain
		if req.GetAll() {
			for _, prog := range s.Programs {
				if mayReplace(p, prog.Owner, req.GetForce()) == nil {
					removed = append(removed, prog.Name)
					continue
				}
				keep = append(keep, prog)
			}
		} else {
			keep = s.Programs
			for _, name := range req.GetNames() {
				i := keep.Index(name)
				if i < 0 {
					return fmt.Errorf("%w: %q on %s", dispatcher.ErrNotFound, name, ref)
				}
				if err := mayReplace(p, keep[i].Owner, req.GetForce()); err != nil {
					return fmt.Errorf("program %q on %s: %w", name, ref, err)
				}
				keep = append(keep[:i:i], keep[i+1:]...)
				removed = append(removed, name)
			}
		}
		if len(removed) == 0 {
			return errUnchanged
		}
		s.Programs = keep
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return []string{}, nil
	}
	return removed, err
}
