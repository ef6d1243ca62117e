package daemon

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// This file translates between the control API (controlpb) and the chain
// vocabulary, both ways: requests, answers and errors.

// sentinels are the errors that cross the socket, most specific first, with
// the name an ErrorDetail carries and the status code that stands for them
// (for clients that do not read details).
var sentinels = []struct {
	name string
	err  error
	code codes.Code
}{
	// First: a refused reload wraps whatever refused it. (A detail-less
	// FAILED_PRECONDITION reads as ErrReload; the daemon always sends one.)
	{"ErrReload", ErrReload, codes.FailedPrecondition},
	{"ErrStale", chain.ErrStale, codes.Aborted},
	{"ErrExists", chain.ErrExists, codes.AlreadyExists},
	{"ErrPermission", chain.ErrPermission, codes.PermissionDenied},
	{"ErrOwned", chain.ErrOwned, codes.AlreadyExists},
	{"ErrNotFound", dispatcher.ErrNotFound, codes.NotFound},
	{"ErrForeignProgram", dispatcher.ErrForeignProgram, codes.Aborted},
	{"ErrNotAttached", dispatcher.ErrNotAttached, codes.Unavailable},
	{"ErrConcurrentUpdate", dispatcher.ErrConcurrentUpdate, codes.Aborted},
	{"ErrNotSupported", dispatcher.ErrNotSupported, codes.Unimplemented},
	{"ErrLoad", dispatcher.ErrLoad, codes.FailedPrecondition},
	{"ErrOtherInstance", dispatcher.ErrOtherInstance, codes.FailedPrecondition},
	{"ErrDamaged", dispatcher.ErrDamaged, codes.FailedPrecondition},
	{"ErrInvalid", dispatcher.ErrInvalid, codes.InvalidArgument},
}

// toStatus turns an error into a status error whose ErrorDetail names its
// sentinel and the program it is about.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	code, detail := codes.Unknown, &controlpb.ErrorDetail{}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			code, detail.Sentinel = s.code, s.name
			break
		}
	}
	var pe *dispatcher.ProgramError
	if errors.As(err, &pe) {
		detail.Program, detail.VerifierLog = pe.Program, pe.VerifierLog
	}
	var de *dispatcher.DamagedError
	if errors.As(err, &de) {
		detail.DamagedInterface, detail.DamagedNetns = de.Interface, de.NetNS
	}
	var sp *dispatcher.SeveralProgramsError
	if errors.As(err, &sp) {
		detail.ObjectPrograms = sp.Programs
	}
	st := status.New(code, err.Error())
	if with, werr := st.WithDetails(detail); werr == nil {
		st = with
	}
	return st.Err()
}

// fromStatus maps a status error back to an error that wraps the sentinel
// it carried and, when it names a program, a *dispatcher.ProgramError with
// the verifier's log.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	re := &remoteError{msg: st.Message()}
	var detail *controlpb.ErrorDetail
	for _, d := range st.Details() {
		if d, ok := d.(*controlpb.ErrorDetail); ok {
			detail = d
		}
	}
	for _, s := range sentinels {
		if (detail != nil && detail.GetSentinel() == s.name) || (detail == nil && st.Code() == s.code) {
			re.sentinel = s.err
			break
		}
	}
	if detail != nil && detail.GetProgram() != "" {
		inner := error(errors.New(re.msg))
		if re.sentinel != nil {
			inner = fmt.Errorf("%w", re.sentinel)
		}
		re.program = &dispatcher.ProgramError{Program: detail.GetProgram(), Err: inner, VerifierLog: detail.GetVerifierLog()}
	}
	if detail != nil && len(detail.GetObjectPrograms()) > 0 {
		re.several = &dispatcher.SeveralProgramsError{Programs: detail.GetObjectPrograms()}
	}
	if detail != nil && detail.GetDamagedInterface() != "" {
		re.damaged = &dispatcher.DamagedError{Interface: detail.GetDamagedInterface(), NetNS: detail.GetDamagedNetns(), Reason: "its state or counters are unreadable", Err: errors.New(re.msg)}
	}
	return re
}

// remoteError is an error from the daemon: its message, unwrapping to the
// sentinel it carried and the program error it described.
type remoteError struct {
	msg      string
	sentinel error
	program  *dispatcher.ProgramError
	damaged  *dispatcher.DamagedError
	several  *dispatcher.SeveralProgramsError
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() []error {
	var out []error
	if e.sentinel != nil {
		out = append(out, e.sentinel)
	}
	if e.program != nil {
		out = append(out, e.program)
	}
	if e.damaged != nil {
		out = append(out, e.damaged)
	}
	if e.several != nil {
		out = append(out, e.several)
	}
	return out
}

func optRevision(p *uint64) *uint64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// loadToProto is a LoadRequest on the wire.
func loadToProto(r chain.LoadRequest) *controlpb.LoadRequest {
	req := &controlpb.LoadRequest{
		Interface: r.Interface.Name, Netns: r.Interface.NetNS, Object: r.Object, ProgramName: r.ProgramName,
		Name: r.Name, Force: r.Force, Mode: string(r.Mode), Mechanism: string(r.Mechanism),
		VerifierLog: r.VerifierLog, Replace: r.Replace, Before: r.Placement.Before, After: r.Placement.After,
		ExpectedRevision: optRevision(r.ExpectedRevision),
	}
	o := r.Overrides
	if o.Priority != nil {
		v := int32(*o.Priority)
		req.Priority = &v
	}
	if o.ProceedOn != nil {
		v := uint32(*o.ProceedOn)
		req.ProceedOn = &v
	}
	if o.Allowed != nil {
		v := uint32(*o.Allowed)
		req.Allowed = &v
	}
	if o.Shadow != nil {
		req.Shadow = *o.Shadow
	}
	if r.Fallthrough != nil {
		v := uint32(*r.Fallthrough)
		req.Fallthrough = &v
	}
	return req
}

// loadFromProto is the LoadRequest a request on the wire asks for.
func loadFromProto(req *controlpb.LoadRequest) chain.LoadRequest {
	r := chain.LoadRequest{
		Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()),
		Object:    req.GetObject(), ProgramName: req.GetProgramName(), Name: req.GetName(),
		Replace: req.GetReplace(), Force: req.GetForce(),
		Placement:        chain.Placement{Before: req.GetBefore(), After: req.GetAfter()},
		ExpectedRevision: optRevision(req.ExpectedRevision),
		Mechanism:        dispatcher.MechanismKind(req.GetMechanism()),
		Mode:             dispatcher.Mode(req.GetMode()),
		VerifierLog:      req.GetVerifierLog(),
	}
	if req.Priority != nil {
		v := int(req.GetPriority())
		r.Overrides.Priority = &v
	}
	if req.ProceedOn != nil {
		v := dispatcher.VerdictSet(req.GetProceedOn())
		r.Overrides.ProceedOn = &v
	}
	if req.Allowed != nil {
		v := dispatcher.VerdictSet(req.GetAllowed())
		r.Overrides.Allowed = &v
	}
	shadow := req.GetShadow()
	r.Overrides.Shadow = &shadow
	if req.Fallthrough != nil {
		v := dispatcher.Verdict(req.GetFallthrough())
		r.Fallthrough = &v
	}
	return r
}

func loadedToProto(l *chain.Loaded) *controlpb.LoadResponse {
	return &controlpb.LoadResponse{
		Name: l.Name, Priority: int32(l.Priority), Owner: l.Owner, Allowed: uint32(l.Allowed),
		Slot: uint32(l.Slot), Programs: uint32(l.Programs), ProceedOn: uint32(l.ProceedOn),
		Mechanism: string(l.Mechanism), Mode: string(l.Mode), Revision: l.Revision, Changed: l.Changed,
	}
}

func loadedFromProto(resp *controlpb.LoadResponse) *chain.Loaded {
	return &chain.Loaded{
		Name: resp.GetName(), Priority: int(resp.GetPriority()), Owner: resp.GetOwner(),
		Allowed: dispatcher.VerdictSet(resp.GetAllowed()), ProceedOn: dispatcher.VerdictSet(resp.GetProceedOn()),
		Slot: int(resp.GetSlot()), Programs: int(resp.GetPrograms()),
		Mechanism: dispatcher.MechanismKind(resp.GetMechanism()), Mode: dispatcher.Mode(resp.GetMode()),
		Revision: resp.GetRevision(), Changed: resp.GetChanged(),
	}
}

func unloadToProto(u chain.Unload) *controlpb.UnloadRequest {
	return &controlpb.UnloadRequest{Interface: u.Interface.Name, Netns: u.Interface.NetNS, Names: u.Names, All: u.All, Force: u.Force, ExpectedRevision: optRevision(u.ExpectedRevision)}
}

func unloadFromProto(req *controlpb.UnloadRequest) chain.Unload {
	return chain.Unload{Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()), Names: req.GetNames(), All: req.GetAll(), Force: req.GetForce(), ExpectedRevision: optRevision(req.ExpectedRevision)}
}

func detachToProto(d chain.Detach) *controlpb.DetachRequest {
	return &controlpb.DetachRequest{Interface: d.Interface.Name, Netns: d.Interface.NetNS, ExpectedRevision: optRevision(d.ExpectedRevision)}
}

func detachFromProto(req *controlpb.DetachRequest) chain.Detach {
	return chain.Detach{Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()), ExpectedRevision: optRevision(req.ExpectedRevision)}
}

func adoptToProto(a chain.Adopt) *controlpb.AdoptRequest {
	return &controlpb.AdoptRequest{Interface: a.Interface.Name, Netns: a.Interface.NetNS, Name: a.Name, Mechanism: string(a.Mechanism)}
}

func adoptFromProto(req *controlpb.AdoptRequest) chain.Adopt {
	return chain.Adopt{Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()), Name: req.GetName(), Mechanism: dispatcher.MechanismKind(req.GetMechanism())}
}

func adoptedToProto(a *dispatcher.Adopted) *controlpb.AdoptResponse {
	return &controlpb.AdoptResponse{Name: a.Name, ProgramId: a.ID, KernelName: a.KernelName, Mode: string(a.Mode)}
}

func adoptedFromProto(resp *controlpb.AdoptResponse) *dispatcher.Adopted {
	return &dispatcher.Adopted{Name: resp.GetName(), ID: resp.GetProgramId(), KernelName: resp.GetKernelName(), Mode: dispatcher.Mode(resp.GetMode())}
}

func leaveToProto(l chain.Leave) *controlpb.LeaveRequest {
	return &controlpb.LeaveRequest{Interface: l.Interface.Name, Netns: l.Interface.NetNS, Name: l.Name, ExpectedRevision: optRevision(l.ExpectedRevision)}
}

func leaveFromProto(req *controlpb.LeaveRequest) chain.Leave {
	return chain.Leave{Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()), Name: req.GetName(), ExpectedRevision: optRevision(req.ExpectedRevision)}
}

// explainToProto and explainFromProto carry an Explain request.
func explainToProto(itf chain.Interface, frame []byte) *controlpb.ExplainRequest {
	return &controlpb.ExplainRequest{Interface: itf.Name, Netns: itf.NetNS, Frame: frame}
}

func explainFromProto(req *controlpb.ExplainRequest) (chain.Interface, []byte) {
	return chain.NewInterface(req.GetNetns(), req.GetInterface()), req.GetFrame()
}
