package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// This file is the one translation between the control API (controlpb) and
// the Go vocabulary (chain, dispatcher and this package), both ways:
// requests, answers, the status and errors. The daemon's server and the
// client both use it.

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
	{"ErrForceable", chain.ErrForceable, codes.AlreadyExists},
	{"ErrNothingNamed", chain.ErrNothingNamed, codes.InvalidArgument},
	{"ErrNotFound", dispatcher.ErrNotFound, codes.NotFound},
	{"ErrForeignProgram", dispatcher.ErrForeignProgram, codes.Aborted},
	{"ErrNotAttached", dispatcher.ErrNotAttached, codes.Unavailable},
	{"ErrNotRunning", ErrNotRunning, codes.Unavailable},
	{"ErrConcurrentUpdate", dispatcher.ErrConcurrentUpdate, codes.Aborted},
	{"ErrNotSupported", dispatcher.ErrNotSupported, codes.Unimplemented},
	{"ErrLoad", dispatcher.ErrLoad, codes.FailedPrecondition},
	{"ErrOtherInstance", dispatcher.ErrOtherInstance, codes.FailedPrecondition},
	{"ErrDamaged", dispatcher.ErrDamaged, codes.FailedPrecondition},
	{"ErrPrivateMountNS", dispatcher.ErrPrivateMountNS, codes.FailedPrecondition},
	{"ErrRootMustBeRecreated", dispatcher.ErrRootMustBeRecreated, codes.FailedPrecondition},
	{"ErrNoBPFFS", dispatcher.ErrNoBPFFS, codes.FailedPrecondition},
	{"ErrInvalid", dispatcher.ErrInvalid, codes.InvalidArgument},
	{"ErrInterfaceRef", chain.ErrInterfaceRef, codes.InvalidArgument},
}

// ErrorToStatus turns an error into a status error whose ErrorDetail names
// every sentinel it wraps and the program it is about; the status code is
// the first sentinel's.
func ErrorToStatus(err error) error {
	if err == nil {
		return nil
	}
	code, detail := codes.Unknown, &controlpb.ErrorDetail{}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			if detail.Sentinel == "" {
				code, detail.Sentinel = s.code, s.name
			}
			detail.Sentinels = append(detail.Sentinels, s.name)
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

// ErrorFromStatus maps a status error back to an error with its message
// that wraps the sentinels it carried and, when it names a program, a
// *dispatcher.ProgramError with the verifier's log. An error that is no
// status error is returned as it is.
func ErrorFromStatus(err error) error {
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
	names := detail.GetSentinels()
	if len(names) == 0 && detail.GetSentinel() != "" {
		names = []string{detail.GetSentinel()} // a daemon of v0.3.0 sends one
	}
	for _, s := range sentinels {
		switch {
		case detail != nil && slices.Contains(names, s.name),
			detail == nil && len(re.sentinels) == 0 && st.Code() == s.code:
			re.sentinels = append(re.sentinels, s.err)
		}
	}
	if detail.GetProgram() != "" {
		// The cause: the daemon's message (which names the program
		// already), with the same sentinels.
		inner := &remoteError{msg: re.msg, sentinels: re.sentinels}
		re.program = &dispatcher.ProgramError{Program: detail.GetProgram(), Err: inner, VerifierLog: detail.GetVerifierLog()}
	}
	if len(detail.GetObjectPrograms()) > 0 {
		re.several = &dispatcher.SeveralProgramsError{Programs: detail.GetObjectPrograms()}
	}
	if detail.GetDamagedInterface() != "" {
		re.damaged = &dispatcher.DamagedError{Interface: detail.GetDamagedInterface(), NetNS: detail.GetDamagedNetns(), Reason: "its state or counters are unreadable", Err: errors.New(re.msg)}
	}
	return re
}

// remoteError is an error from the daemon: its message, unwrapping to the
// sentinels it carried and the program error it described.
type remoteError struct {
	msg       string
	sentinels []error
	program   *dispatcher.ProgramError
	damaged   *dispatcher.DamagedError
	several   *dispatcher.SeveralProgramsError
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() []error {
	out := append([]error{}, e.sentinels...)
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

// LoadToProto is a LoadRequest on the wire.
func LoadToProto(r chain.LoadRequest) *controlpb.LoadRequest {
	req := &controlpb.LoadRequest{
		Interface: r.Interface.Name, Netns: r.Interface.NetNS, Object: r.Object, ProgramName: r.ProgramName,
		Name: r.Name, Force: r.Force, Mode: string(r.Mode), Mechanism: r.Mechanism.String(),
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

// LoadFromProto is the LoadRequest a request on the wire asks for; its
// mechanism is parsed here (dispatcher.ParseMechanism).
func LoadFromProto(req *controlpb.LoadRequest) (chain.LoadRequest, error) {
	mech, err := dispatcher.ParseMechanism(req.GetMechanism())
	if err != nil {
		return chain.LoadRequest{}, err
	}
	mode, err := dispatcher.ParseMode(req.GetMode())
	if err != nil {
		return chain.LoadRequest{}, err
	}
	r := chain.LoadRequest{
		Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()),
		Object:    req.GetObject(), ProgramName: req.GetProgramName(), Name: req.GetName(),
		Replace: req.GetReplace(), Force: req.GetForce(),
		Placement:        chain.Placement{Before: req.GetBefore(), After: req.GetAfter()},
		ExpectedRevision: optRevision(req.ExpectedRevision),
		Mechanism:        mech,
		Mode:             mode,
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
	return r, nil
}

// LoadedToProto and LoadedFromProto carry a load's answer.
func LoadedToProto(l *chain.Loaded) *controlpb.LoadResponse {
	return &controlpb.LoadResponse{
		Name: l.Name, Priority: int32(l.Priority), Owner: l.Owner, Allowed: uint32(l.Allowed),
		Slot: uint32(l.Slot), Programs: uint32(l.Programs), ProceedOn: uint32(l.ProceedOn),
		Mechanism: l.Mechanism.String(), Mode: string(l.Mode), Revision: l.Revision, Changed: l.Changed,
	}
}

// LoadedFromProto is the answer LoadedToProto sent.
func LoadedFromProto(resp *controlpb.LoadResponse) *chain.Loaded {
	mech, _ := dispatcher.ParseMechanism(resp.GetMechanism()) // a daemon's own: known
	return &chain.Loaded{
		Name: resp.GetName(), Priority: int(resp.GetPriority()), Owner: resp.GetOwner(),
		Allowed: dispatcher.VerdictSet(resp.GetAllowed()), ProceedOn: dispatcher.VerdictSet(resp.GetProceedOn()),
		Slot: int(resp.GetSlot()), Programs: int(resp.GetPrograms()),
		Mechanism: mech, Mode: modeFromProto(resp.GetMode()),
		Revision: resp.GetRevision(), Changed: resp.GetChanged(),
	}
}

// UnloadToProto and UnloadFromProto carry an Unload.
func UnloadToProto(u chain.Unload) *controlpb.UnloadRequest {
	return &controlpb.UnloadRequest{Interface: u.Interface.Name, Netns: u.Interface.NetNS, Names: u.Names, All: u.All, Force: u.Force, ExpectedRevision: optRevision(u.ExpectedRevision)}
}

// UnloadFromProto reads what UnloadToProto sent.
func UnloadFromProto(req *controlpb.UnloadRequest) chain.Unload {
	return chain.Unload{Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()), Names: req.GetNames(), All: req.GetAll(), Force: req.GetForce(), ExpectedRevision: optRevision(req.ExpectedRevision)}
}

// DetachToProto and DetachFromProto carry a Detach.
func DetachToProto(d chain.Detach) *controlpb.DetachRequest {
	return &controlpb.DetachRequest{Interface: d.Interface.Name, Netns: d.Interface.NetNS, ExpectedRevision: optRevision(d.ExpectedRevision)}
}

// DetachFromProto reads what DetachToProto sent.
func DetachFromProto(req *controlpb.DetachRequest) chain.Detach {
	return chain.Detach{Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()), ExpectedRevision: optRevision(req.ExpectedRevision)}
}

// AdoptToProto and AdoptFromProto carry an Adopt.
func AdoptToProto(a chain.Adopt) *controlpb.AdoptRequest {
	return &controlpb.AdoptRequest{Interface: a.Interface.Name, Netns: a.Interface.NetNS, Name: a.Name, Mechanism: a.Mechanism.String()}
}

// AdoptFromProto reads what AdoptToProto sent.
func AdoptFromProto(req *controlpb.AdoptRequest) (chain.Adopt, error) {
	mech, err := dispatcher.ParseMechanism(req.GetMechanism())
	if err != nil {
		return chain.Adopt{}, err
	}
	return chain.Adopt{Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()), Name: req.GetName(), Mechanism: mech}, nil
}

// AdoptedToProto and AdoptedFromProto carry an adoption's answer.
func AdoptedToProto(a *dispatcher.Adopted) *controlpb.AdoptResponse {
	return &controlpb.AdoptResponse{Name: a.Name, ProgramId: a.ID, KernelName: a.KernelName, Mode: string(a.Mode)}
}

// AdoptedFromProto reads what AdoptedToProto sent.
func AdoptedFromProto(resp *controlpb.AdoptResponse) *dispatcher.Adopted {
	return &dispatcher.Adopted{Name: resp.GetName(), ID: resp.GetProgramId(), KernelName: resp.GetKernelName(), Mode: modeFromProto(resp.GetMode())}
}

// LeaveToProto and LeaveFromProto carry a Leave.
func LeaveToProto(l chain.Leave) *controlpb.LeaveRequest {
	return &controlpb.LeaveRequest{Interface: l.Interface.Name, Netns: l.Interface.NetNS, Name: l.Name, ExpectedRevision: optRevision(l.ExpectedRevision)}
}

// LeaveFromProto reads what LeaveToProto sent.
func LeaveFromProto(req *controlpb.LeaveRequest) chain.Leave {
	return chain.Leave{Interface: chain.NewInterface(req.GetNetns(), req.GetInterface()), Name: req.GetName(), ExpectedRevision: optRevision(req.ExpectedRevision)}
}

// ExplainToProto and ExplainFromProto carry an Explain request.
func ExplainToProto(itf chain.Interface, frame []byte) *controlpb.ExplainRequest {
	return &controlpb.ExplainRequest{Interface: itf.Name, Netns: itf.NetNS, Frame: frame}
}

func ExplainFromProto(req *controlpb.ExplainRequest) (chain.Interface, []byte) {
	return chain.NewInterface(req.GetNetns(), req.GetInterface()), req.GetFrame()
}

// ReloadToProto and ReloadFromProto carry a reload's result.
func ReloadToProto(r *ReloadResult) *controlpb.ReloadResponse {
	return &controlpb.ReloadResponse{Config: r.Config, Interfaces: uint32(r.Interfaces), Plugins: uint32(r.Plugins),
		Programs: uint32(r.Programs), RestartOnly: r.RestartOnly}
}

// ReloadFromProto reads what ReloadToProto sent.
func ReloadFromProto(resp *controlpb.ReloadResponse) *ReloadResult {
	return &ReloadResult{Config: resp.GetConfig(), Interfaces: int(resp.GetInterfaces()), Plugins: int(resp.GetPlugins()),
		Programs: int(resp.GetPrograms()), RestartOnly: resp.GetRestartOnly()}
}

// StatusToProto is the daemon's status on the wire. Settings that cannot be
// encoded as JSON are an error.
func StatusToProto(st *Status) (*controlpb.DaemonStatus, error) {
	out := &controlpb.DaemonStatus{Config: st.Config, SettingsSalt: st.SettingsSalt}
	for i := range st.Interfaces {
		out.Interfaces = append(out.Interfaces, interfaceToProto(&st.Interfaces[i]))
	}
	for _, p := range st.Plugins {
		pp := &controlpb.PluginStatus{
			Name: p.Name, Interface: p.Interface, State: p.State, Pid: int64(p.PID), PidNamespace: p.PIDNamespace,
			Version: p.Version, OnExit: p.OnExit, Restarts: int32(p.Restarts), LastError: p.LastError, Health: p.Health,
			SecretSettings: p.SecretSettings,
		}
		if !p.Since.IsZero() {
			pp.SinceUnixNano = p.Since.UnixNano()
		}
		if p.Settings != nil {
			b, err := json.Marshal(p.Settings)
			if err != nil {
				return nil, fmt.Errorf("plugin %s's settings: %w", p.Name, err)
			}
			pp.SettingsJson = b
		}
		out.Plugins = append(out.Plugins, pp)
	}
	return out, nil
}

// StatusFromProto reads what StatusToProto sent. A daemon up to v0.3.0
// sent the status as JSON instead (status_json, deprecated): read as such,
// so that a new client reads an old daemon during a rolling upgrade. A
// response with neither comes from a daemon this client cannot read.
func StatusFromProto(resp *controlpb.StatusResponse) (*Status, error) {
	in := resp.GetStatus()
	if in == nil {
		//lint:ignore SA1019 the deprecated field is read only as the fallback for daemons up to v0.3.0
		return statusFromJSON(resp.GetStatusJson())
	}
	st := &Status{Config: in.GetConfig(), SettingsSalt: in.GetSettingsSalt(), Interfaces: []dispatcher.InterfaceStatus{}, Plugins: []PluginStatus{}}
	for _, itf := range in.GetInterfaces() {
		st.Interfaces = append(st.Interfaces, interfaceFromProto(itf))
	}
	for _, p := range in.GetPlugins() {
		ps := PluginStatus{
			Name: p.GetName(), Interface: p.GetInterface(), State: p.GetState(), PID: int(p.GetPid()), PIDNamespace: p.GetPidNamespace(),
			Version: p.GetVersion(), OnExit: p.GetOnExit(), Restarts: int(p.GetRestarts()), LastError: p.GetLastError(), Health: p.GetHealth(),
			SecretSettings: p.GetSecretSettings(),
		}
		if n := p.GetSinceUnixNano(); n != 0 {
			ps.Since = time.Unix(0, n)
		}
		if b := p.GetSettingsJson(); len(b) > 0 {
			if err := json.Unmarshal(b, &ps.Settings); err != nil {
				return nil, fmt.Errorf("plugin %s's settings from the daemon: %w", ps.Name, err)
			}
		}
		st.Plugins = append(st.Plugins, ps)
	}
	return st, nil
}

// statusFromJSON reads the status a daemon up to v0.3.0 sent: its
// daemon.Status as JSON, whose keys Status keeps (config, interfaces,
// plugins).
func statusFromJSON(b []byte) (*Status, error) {
	if len(b) == 0 {
		return nil, errors.New("the daemon sent no status it can be read by this client: a daemon of another release (restart it after an upgrade)")
	}
	st := &Status{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("reading the status of a daemon up to v0.3.0 (JSON): %w", err)
	}
	if st.Interfaces == nil {
		st.Interfaces = []dispatcher.InterfaceStatus{}
	}
	if st.Plugins == nil {
		st.Plugins = []PluginStatus{}
	}
	return st, nil
}

func interfaceToProto(s *dispatcher.InterfaceStatus) *controlpb.InterfaceStatus {
	out := &controlpb.InterfaceStatus{
		Name: s.Name, Ifindex: int32(s.Ifindex), Netns: s.NetNS, NetnsInode: s.NetNSInode, Mode: string(s.Mode),
		Mechanism: string(s.Mechanism), MechanismReason: s.MechanismReason, LinkId: s.LinkID, DispatcherId: s.DispatcherID,
		Generation: s.Generation, Revision: s.Revision, Fallthrough: s.Fallthrough, FallthroughPackets: s.FallthroughPackets,
		Damaged: s.Damaged, DeviceBound: s.DeviceBound,
	}
	if s.Foreign != nil {
		out.Foreign = &controlpb.Instance{StateDir: s.Foreign.StateDir, Id: s.Foreign.ID}
	}
	for _, p := range s.Programs {
		out.Programs = append(out.Programs, &controlpb.ProgramStatus{
			Slot: int32(p.Slot), Name: p.Name, Priority: int32(p.Priority), ProceedOn: p.ProceedOn, Allowed: p.Allowed,
			Shadow: p.Shadow, Program: p.Program, ProgramId: p.ProgramID, AloneId: p.AloneID, DeviceBound: p.DeviceBound, Placement: p.Placement, CallReason: p.CallReason,
			Xskmap: p.XSKMap, AdoptedId: p.AdoptedID, Owner: p.Owner, Version: p.Version, ObjectSha256: p.Object,
			Stats: &controlpb.Stats{Aborted: p.Stats.Aborted, Drop: p.Stats.Drop, Pass: p.Stats.Pass, Tx: p.Stats.TX,
				Redirect: p.Stats.Redirect, Invalid: p.Stats.Invalid, Denied: p.Stats.Denied},
		})
	}
	return out
}

func interfaceFromProto(s *controlpb.InterfaceStatus) dispatcher.InterfaceStatus {
	out := dispatcher.InterfaceStatus{
		Name: s.GetName(), Ifindex: int(s.GetIfindex()), NetNS: s.GetNetns(), NetNSInode: s.GetNetnsInode(),
		Mode: modeFromProto(s.GetMode()), Mechanism: dispatcher.Mechanism(s.GetMechanism()), MechanismReason: s.GetMechanismReason(),
		LinkID: s.GetLinkId(), DispatcherID: s.GetDispatcherId(), Generation: s.GetGeneration(), Revision: s.GetRevision(),
		Fallthrough: s.GetFallthrough(), FallthroughPackets: s.GetFallthroughPackets(), Damaged: s.GetDamaged(), DeviceBound: s.GetDeviceBound(),
		Programs: []dispatcher.ProgramStatus{},
	}
	if f := s.GetForeign(); f != nil {
		out.Foreign = &dispatcher.Instance{StateDir: f.GetStateDir(), ID: f.GetId()}
	}
	for _, p := range s.GetPrograms() {
		st := p.GetStats()
		proceedOn := p.GetProceedOn()
		if proceedOn == nil {
			proceedOn = []string{} // as the dispatcher reports an empty set
		}
		out.Programs = append(out.Programs, dispatcher.ProgramStatus{
			Slot: int(p.GetSlot()), Name: p.GetName(), Priority: int(p.GetPriority()), ProceedOn: proceedOn, Allowed: p.GetAllowed(),
			Shadow: p.GetShadow(), Program: p.GetProgram(), ProgramID: p.GetProgramId(), AloneID: p.GetAloneId(), DeviceBound: p.GetDeviceBound(), Placement: p.GetPlacement(), CallReason: p.GetCallReason(),
			XSKMap: p.GetXskmap(), AdoptedID: p.GetAdoptedId(), Owner: p.GetOwner(), Version: p.GetVersion(), Object: p.GetObjectSha256(),
			Stats: dispatcher.Stats{Aborted: st.GetAborted(), Drop: st.GetDrop(), Pass: st.GetPass(), TX: st.GetTx(),
				Redirect: st.GetRedirect(), Invalid: st.GetInvalid(), Denied: st.GetDenied()},
		})
	}
	return out
}

// ExplanationToProto and ExplanationFromProto carry an Explain's answer.
func ExplanationToProto(ex *dispatcher.Explanation) *controlpb.ExplainResponse {
	out := &controlpb.ExplainResponse{Verdict: ex.Verdict, DecidedBy: ex.DecidedBy}
	for _, s := range ex.Slots {
		out.Slots = append(out.Slots, &controlpb.SlotExplanation{Slot: int32(s.Slot), Name: s.Name, Verdict: s.Verdict, Action: s.Action})
	}
	return out
}

// ExplanationFromProto reads what ExplanationToProto sent.
func ExplanationFromProto(resp *controlpb.ExplainResponse) *dispatcher.Explanation {
	out := &dispatcher.Explanation{Verdict: resp.GetVerdict(), DecidedBy: resp.GetDecidedBy(), Slots: []dispatcher.SlotExplanation{}}
	for _, s := range resp.GetSlots() {
		out.Slots = append(out.Slots, dispatcher.SlotExplanation{Slot: int(s.GetSlot()), Name: s.GetName(), Verdict: s.GetVerdict(), Action: s.GetAction()})
	}
	return out
}

// ProbeToProto and ProbeFromProto carry an observer's probe.
func ProbeToProto(p dispatcher.Probe) *controlpb.Probe {
	return &controlpb.Probe{Kind: string(p.Kind), Program: p.Program, At: string(p.At), Verdicts: uint32(p.Verdicts),
		Snaplen: p.Snaplen, Sample: p.Sample, Programs: p.Programs}
}

// ProbeFromProto reads what ProbeToProto sent.
func ProbeFromProto(p *controlpb.Probe) dispatcher.Probe {
	return dispatcher.Probe{Kind: dispatcher.ProbeKind(p.GetKind()), Program: p.GetProgram(), At: dispatcher.CapturePoint(p.GetAt()),
		Verdicts: dispatcher.VerdictSet(p.GetVerdicts()), Snaplen: p.GetSnaplen(), Sample: p.GetSample(), Programs: p.GetPrograms()}
}

// EventToProto and EventFromProto carry one record of a capture or trace.
func EventToProto(e dispatcher.Event) *controlpb.Event {
	out := &controlpb.Event{Kind: e.Kind, Cpu: int32(e.CPU), Slot: int32(e.Slot), Program: e.Program, Verdict: uint32(e.Verdict),
		ProceedOn: uint32(e.ProceedOn), Shadow: e.Shadow, Last: e.Last, Fallthrough: uint32(e.Fallthrough), Len: int64(e.Len),
		Data: e.Data, RecordLost: e.Lost}
	if !e.Time.IsZero() {
		out.TimeUnixNano = e.Time.UnixNano()
	}
	return out
}

// EventFromProto reads what EventToProto sent.
func EventFromProto(e *controlpb.Event) dispatcher.Event {
	out := dispatcher.Event{Kind: e.GetKind(), CPU: int(e.GetCpu()), Slot: int(e.GetSlot()), Program: e.GetProgram(),
		Verdict: dispatcher.Verdict(e.GetVerdict()), ProceedOn: dispatcher.VerdictSet(e.GetProceedOn()), Shadow: e.GetShadow(),
		Last: e.GetLast(), Fallthrough: dispatcher.Verdict(e.GetFallthrough()), Len: int(e.GetLen()), Data: e.GetData(), Lost: e.GetRecordLost()}
	if n := e.GetTimeUnixNano(); n != 0 {
		out.Time = time.Unix(0, n)
	}
	return out
}

// ProfileToProto and ProfileFromProto carry what a profile measured.
func ProfileToProto(p *dispatcher.Profile) *controlpb.ObserveProfileResponse {
	out := &controlpb.ObserveProfileResponse{DurationNs: int64(p.Duration), Sample: p.Sample, OneCopy: p.OneCopy, Root: programProfileToProto(p.Root)}
	for _, pp := range p.Programs {
		out.Programs = append(out.Programs, programProfileToProto(pp))
	}
	return out
}

// ProfileFromProto reads what ProfileToProto sent.
func ProfileFromProto(resp *controlpb.ObserveProfileResponse) *dispatcher.Profile {
	out := &dispatcher.Profile{Duration: time.Duration(resp.GetDurationNs()), Sample: resp.GetSample(), OneCopy: resp.GetOneCopy(),
		Programs: []dispatcher.ProgramProfile{}, Root: programProfileFromProto(resp.GetRoot())}
	for _, pp := range resp.GetPrograms() {
		out.Programs = append(out.Programs, programProfileFromProto(pp))
	}
	return out
}

func programProfileToProto(p dispatcher.ProgramProfile) *controlpb.ProgramProfile {
	return &controlpb.ProgramProfile{Name: p.Name, Slot: int32(p.Slot), Packets: p.Packets, NsPerPacket: p.NsPerPacket,
		P50Ns: p.P50, P99Ns: p.P99, Buckets: p.Buckets}
}

func programProfileFromProto(p *controlpb.ProgramProfile) dispatcher.ProgramProfile {
	return dispatcher.ProgramProfile{Name: p.GetName(), Slot: int(p.GetSlot()), Packets: p.GetPackets(), NsPerPacket: p.GetNsPerPacket(),
		P50: p.GetP50Ns(), P99: p.GetP99Ns(), Buckets: p.GetBuckets()}
}

// modeFromProto reads the attach mode a daemon reports, the one it
// attached in: known (dispatcher.ParseMode); none stays none.
func modeFromProto(s string) dispatcher.Mode {
	var m dispatcher.Mode
	_ = m.UnmarshalText([]byte(s))
	return m
}
