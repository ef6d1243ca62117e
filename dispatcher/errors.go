package dispatcher

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrInvalid: a chain or program description is malformed (bad name,
	// duplicate, unknown verdict, too many programs, ...).
	ErrInvalid = errors.New("invalid chain")
	// ErrForeignProgram: the interface carries an XDP program xdpchain does
	// not own. It is never replaced.
	ErrForeignProgram = errors.New("interface has a foreign XDP program")
	// ErrNotAttached: the interface has no xdpchain root.
	ErrNotAttached = errors.New("no xdpchain root on interface")
	// ErrNotFound: no program of that name in the chain.
	ErrNotFound = errors.New("program not found")
	// ErrLoad: a program could not be loaded (bad object, verifier rejection).
	ErrLoad = errors.New("loading program")
	// ErrConcurrentUpdate: the root's program changed under us (compare-and-
	// swap failed); nothing was changed.
	ErrConcurrentUpdate = errors.New("dispatcher changed concurrently")
	// ErrNotSupported: the kernel lacks a feature (see Features). It wraps
	// ebpf.ErrNotSupported, so errors.Is(err, ebpf.ErrNotSupported) holds
	// for it too, as for cilium/ebpf's own probes.
	ErrNotSupported = fmt.Errorf("%w by this kernel", ebpf.ErrNotSupported)
	// ErrNoBPFFS: no usable bpffs for the pins (e.g. inside `ip netns exec`).
	ErrNoBPFFS = errors.New("no usable bpffs")
	// ErrPrivateMountNS comes with an ErrNoBPFFS when this process runs in
	// a private mount namespace (`ip netns exec` makes one), where a bpffs
	// mounted would vanish with the process. Working on the interface from
	// outside, naming its network namespace (Options.NetNS), works.
	ErrPrivateMountNS = errors.New("private mount namespace")
	// ErrUnsafeDir: a state or pin directory (or a file in it) could have
	// been changed by someone else: a symbolic link, or a directory not
	// owned by this process's user or writable by group or others. Nothing
	// in it is used.
	ErrUnsafeDir = errors.New("unsafe state or pin directory")
	// ErrPrivilege: the process lacks the capabilities to work on roots
	// and pins (it needs root); nothing was touched.
	ErrPrivilege = errors.New("not privileged")
	// ErrNewerState: a root's state was written by a newer xdpchain, in a
	// format this build does not know. Nothing reads, changes or removes
	// that root's pins or state; the newer release can.
	ErrNewerState = errors.New("state written by a newer xdpchain")
	// ErrBPFRefused: the bpf() system call itself is refused (a seccomp
	// filter, an LSM, or missing capabilities); nothing was touched.
	ErrBPFRefused = errors.New("bpf() refused by the kernel (seccomp, LSM or capabilities)")
	// ErrDamaged: the interface's root is attached but its state or pins
	// are damaged (state.json missing or unreadable, counters missing).
	// DetachInterface (`xdpchain detach`) removes it. It is an ErrInvalid.
	ErrDamaged = fmt.Errorf("%w: damaged root", ErrInvalid)
	// ErrRootMustBeRecreated: the running root cannot be changed by this
	// build (the kernel refuses the swap: another expected attach type);
	// detaching it (DetachInterface) and loading the chain again can.
	ErrRootMustBeRecreated = errors.New("detach it")
	// ErrOtherInstance: the interface's root is managed by another xdpchain
	// instance (another state directory) sharing the bpffs; nothing of it
	// is read or changed here. Its own instance works on it.
	ErrOtherInstance = errors.New("root of another xdpchain instance")
)

// ProgramError names the program an error is about. It unwraps to the cause
// (ErrLoad, ErrInvalid, ...). VerifierLog holds the verifier's full log when
// the kernel rejected the program.
type ProgramError struct {
	Program     string
	Err         error
	VerifierLog string
}

func (e *ProgramError) Error() string { return fmt.Sprintf("program %q: %v", e.Program, e.Err) }
func (e *ProgramError) Unwrap() error { return e.Err }

// SeveralProgramsError: an object holds several XDP programs and none was
// named. It is an ErrInvalid. The caller says how to name one (the CLI's
// --prog, the config's program =).
type SeveralProgramsError struct {
	// Programs are the object's XDP programs (untyped ones included),
	// sorted.
	Programs []string
}

func (e *SeveralProgramsError) Error() string {
	return fmt.Sprintf("%v: object has several XDP programs %v: name the one to load", ErrInvalid, e.Programs)
}

func (e *SeveralProgramsError) Unwrap() error { return ErrInvalid }

// closeOnError closes c if *err is non-nil when the surrounding function
// returns.
func closeOnError(c interface{ Close() error }, err *error) {
	if *err != nil && c != nil {
		_ = c.Close()
	}
}

// DamagedError is an ErrDamaged about one interface's root: attached, but
// its state or counters are unreadable. DetachInterface removes it.
type DamagedError struct {
	// Interface and NetNS name the interface (NetNS as the caller gave
	// it); Reason says what is unreadable and Err why.
	Interface, NetNS string
	Reason           string
	Err              error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%v: the root of %q is attached but %s: %v", ErrDamaged, e.Interface, e.Reason, e.Err)
}

// Unwrap returns ErrDamaged and the cause.
func (e *DamagedError) Unwrap() []error { return []error{ErrDamaged, e.Err} }
