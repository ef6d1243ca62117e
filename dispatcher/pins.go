package dispatcher

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"

	"golang.org/x/sys/unix"
)

// The pin layout (see docs/pins.md):
//
//	<bpffs>/xdpchain/<netns inode>/<ifindex>/
//	    owner               the instance managing the root (instance.go)
//	    link                the root's bpf_link
//	    stats               per-CPU counters (xdpchain_stats), shared by generations
//	    maps/<prog>/<map>   each program's maps, shared by generations
//	    progs/<prog>        freplace: the program's extension program
//	    links/<prog>        freplace: its link into the running generation
//	    alone/<digest>      references to the programs verified alone it runs (alone.go)
//	<statedir>/<netns inode>/<ifindex>/
//	    state.json          the chain as last committed
//	    state.json.pending  written before a swap, renamed after it
//	    objects/<sha256>.o  each program's ELF object
type pinDir struct {
	bpf      string // <bpffs>/xdpchain/<netns>/<ifindex>
	state    string // <statedir>/<netns>/<ifindex>
	instance string // <statedir>: the instance this process is (instance.go)
}

func newPinDir(opts Options, netnsInode uint64, ifindex int) pinDir {
	ns, idx := strconv.FormatUint(netnsInode, 10), strconv.Itoa(ifindex)
	return pinDir{
		bpf:      filepath.Join(opts.BPFFS, "xdpchain", ns, idx),
		state:    filepath.Join(opts.StateDir, ns, idx),
		instance: opts.StateDir,
	}
}

func (p pinDir) link() string  { return filepath.Join(p.bpf, "link") }
func (p pinDir) stats() string { return filepath.Join(p.bpf, "stats") }

// counters is the pin of the counters map a state names (state.Counters;
// "": stats).
func (p pinDir) counters(name string) string {
	if name == "" {
		return p.stats()
	}
	return filepath.Join(p.bpf, name)
}
func (p pinDir) mapsDir() string             { return filepath.Join(p.bpf, "maps") }
func (p pinDir) progMaps(prog string) string { return filepath.Join(p.bpf, "maps", prog) }
func (p pinDir) progsDir() string            { return filepath.Join(p.bpf, "progs") }
func (p pinDir) linksDir() string            { return filepath.Join(p.bpf, "links") }
func (p pinDir) stateFile() string           { return filepath.Join(p.state, "state.json") }
func (p pinDir) pendingFile() string         { return filepath.Join(p.state, "state.json.pending") }
func (p pinDir) objectsDir() string          { return filepath.Join(p.state, "objects") }

// pinName turns a map name into a bpffs file name: bpffs refuses dots.
func pinName(name string) string {
	return strings.NewReplacer(".", "_", "/", "_").Replace(name)
}

// ensureBPFFS makes sure path is a bpffs mount, mounting one when nothing
// is mounted there. Inside `ip netns exec` it refuses: a bpffs mounted in
// that private mount namespace vanishes with the process, and the pinned
// root with it.
func ensureBPFFS(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err == nil && st.Type == unix.BPF_FS_MAGIC {
		return nil
	}
	if insideIPNetnsExec() {
		return fmt.Errorf("%w: %s is not a bpffs and this process runs in a %w (`ip netns exec`?): pins made here would vanish with it", ErrNoBPFFS, path, ErrPrivateMountNS)
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("%w: creating %s: %w", ErrNoBPFFS, path, err)
	}
	if err := unix.Mount("bpf", path, "bpf", 0, "mode=0700"); err != nil {
		return fmt.Errorf("%w: mounting bpffs at %s: %w", ErrNoBPFFS, path, err)
	}
	return nil
}

// dirLock is an exclusive flock on an interface's pin directory, held
// across read-build-swap so concurrent writers serialize.
type dirLock struct{ fd int }

// lockDir takes the lock of an interface's pin directory, waiting for it.
// Only a process that creates a root (create) makes the directory; any
// other finds it gone when a detach removed it, and gets fs.ErrNotExist:
// a directory made only to be locked would be left behind empty.
func lockDir(dir string, create bool) (*dirLock, error) {
	for {
		if create {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("creating %s: %w", dir, err)
			}
		}
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if !create {
				return nil, &fs.PathError{Op: "lock", Path: dir, Err: fs.ErrNotExist}
			}
			continue // removed (by a detach) between creating and opening it
		}
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", dir, err)
		}
		for {
			err = unix.Flock(fd, unix.LOCK_EX)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		// The holder before us may have removed the directory (detach):
		// then we hold the lock of a directory nobody else will lock.
		// Start over on the one at the path now.
		if sameDir(fd, dir) {
			return &dirLock{fd: fd}, nil
		}
		unix.Close(fd)
	}
}

// sameDir reports whether the directory open as fd is the one at path.
func sameDir(fd int, path string) bool {
	var held, now unix.Stat_t
	if unix.Fstat(fd, &held) != nil || unix.Lstat(path, &now) != nil {
		return false
	}
	return held.Dev == now.Dev && held.Ino == now.Ino
}

// tryLockDir is lockDir without waiting or creating: nil, nil when dir is
// locked by someone else.
func tryLockDir(dir string) (*dirLock, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return &dirLock{fd: fd}, nil
}

func (l *dirLock) Unlock() {
	if l != nil && l.fd >= 0 {
		unix.Flock(l.fd, unix.LOCK_UN)
		unix.Close(l.fd)
		l.fd = -1
	}
}

// state is what a later process needs to rebuild the chain: written to
// state.json after every committed swap. Version is its format
// (stateVersion): a build refuses, and leaves alone, a root whose state has
// a newer format than it knows (ErrNewerState); a change of format that an
// older build could misread takes a new version.
type state struct {
	// extensionsLost (not stored) is what reading the pins found: an
	// extension the state names has no pinned link (freplace.go,
	// extensionsIntact), so the chain must be built again.
	extensionsLost bool

	Version int `json:"version"`
	rootIdentity
	Mechanism   Mechanism `json:"mechanism"`
	Reason      string    `json:"mechanism_reason,omitempty"`
	Fallthrough Verdict   `json:"fallthrough"`
	NoCounters  bool      `json:"no_counters,omitempty"`
	Generation  uint64    `json:"generation"`
	// Revision counts the chain's changes; a generation built only for
	// observers (observe.go) keeps it. Absent in states written before
	// it existed: the generation.
	Revision     *uint64        `json:"revision,omitempty"`
	DispatcherID uint32         `json:"dispatcher_id"`
	Programs     []programState `json:"programs"`
	// Observe are the observers the generation was built for (observe.go).
	Observe []lease `json:"observe,omitempty"`
	// ProfileOneCopy says why a sampled profile's root keeps one copy of
	// the chain, checking the sample at each timed slot (observe_emit.go).
	ProfileOneCopy string `json:"profile_one_copy,omitempty"`

	// How the generation counts, and the counts of earlier ones (stats.go).
	Counting string `json:"counting,omitempty"`
	// Counters is the pin, in the interface's pin directory, of the
	// counters map the generation counts into ("": stats, the first).
	Counters          string `json:"counters,omitempty"`
	FallthroughColumn uint32 `json:"fallthrough_column,omitempty"`
	FallthroughBase   uint64 `json:"fallthrough_base,omitempty"`
	// FallthroughTotal is what earlier countingOnce generations counted as
	// fall-through.
	FallthroughTotal uint64 `json:"fallthrough_total,omitempty"`
	// Retired is where the generation before this one counted, until its
	// counts are folded into the programs' totals.
	Retired *retiredGeneration `json:"retired,omitempty"`
}

// rootIdentity is what a state record says of the root itself, the same in
// every generation's: the interface, its network namespace and the attach
// mode. Its fields are the state file's top-level keys.
type rootIdentity struct {
	Interface  string `json:"interface"`
	Ifindex    int    `json:"ifindex"`
	NetNS      string `json:"netns,omitempty"`
	NetNSInode uint64 `json:"netns_inode"`
	Mode       Mode   `json:"mode"`
}

// newState is the one constructor of a state record: the root's identity,
// the mechanism its generation runs (and why) and its fall-through verdict,
// with an empty chain. A new root's state (attach, adopt), each committed
// generation's (nextState) and the empty state a plan starts from (adopt)
// are built by it; the caller adds the programs and counting.
func newState(id rootIdentity, mech Mechanism, reason string, ft Verdict) *state {
	return &state{rootIdentity: id, Mechanism: mech, Reason: reason, Fallthrough: ft, Programs: []programState{}}
}

// revision is the chain's revision (state.Revision).
func (st *state) revision() uint64 {
	if st.Revision != nil {
		return *st.Revision
	}
	return st.Generation
}

type programState struct {
	programRecord
	Object  string `json:"object"` // sha256 of the ELF, file in objects/
	Counter uint32 `json:"counter"`
	// Base is the counter row's content when it was assigned to this
	// program; the program's counts are the row minus Base. EmptyBase is
	// its empty-sentinel column's (countingOnce).
	Base      Stats  `json:"counter_base"`
	EmptyBase uint64 `json:"counter_base_empty,omitempty"`
	// Total is what the program counted in earlier generations
	// (countingOnce; folded from retired generations).
	Total Stats `json:"total"`
	// ProgramID is the program's own kernel ID (freplace only).
	ProgramID uint32 `json:"program_id,omitempty"`
	// Alone is the digest of the program verified alone, kept under
	// programs/<digest> (alone.go), and AloneID its kernel ID.
	Alone   string `json:"alone,omitempty"`
	AloneID uint32 `json:"alone_id,omitempty"`
	// Stack is the stack depth of each of the program's functions as the
	// verifier reported it for the program alone (inline.go).
	Stack []int `json:"stack_depths,omitempty"`
	// Placement is how the program runs in the dispatcher (inline, call,
	// freplace); CallReason why an Inline chain calls it.
	Placement  string `json:"placement,omitempty"`
	CallReason string `json:"call_reason,omitempty"`
	// XSKMap names the program's XSKMAP, if it has one (xsk.go).
	XSKMap string `json:"xskmap,omitempty"`
	// DeviceBound: the program is bound to the interface, and so its
	// generation (devbound.go). Absent in states written before it was
	// recorded: such a chain shows as unbound until its next change.
	DeviceBound bool `json:"device_bound,omitempty"`
}

// stateVersion is the format this build writes. Format 2 counts each
// packet once, where it ends (stats.go: counting, totals, the retired
// generation); format 1, which releases up to 0.3 write, counted every
// slot a packet passed. This build reads both (a format 1 root is counted
// as it was until its next change); a 0.3 release refuses format 2
// instead of misreading its counters.
const (
	stateVersion       = 2
	oldestStateVersion = 1
)

func readState(path string) (*state, error) {
	b, err := readFileNoFollow(path, maxStateFile)
	if err != nil {
		return nil, err
	}
	// The format first: a later release's state may hold values this
	// build cannot parse (a mechanism it does not know).
	var s state
	if err := json.Unmarshal(b, &struct {
		Version *int `json:"version"`
	}{&s.Version}); err == nil && s.Version > stateVersion {
		return nil, fmt.Errorf("%w: %s has state format %d, and this build knows format %d and earlier: change this root with that release or a later one; this one leaves it as it is",
			ErrNewerState, path, s.Version, stateVersion)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if s.Version < oldestStateVersion {
		return nil, fmt.Errorf("%s: state version %d, want %d to %d", path, s.Version, oldestStateVersion, stateVersion)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// check refuses a state that the code using it could not trust: its
// program names become pin paths, its counters index the counter rows, its
// objects are file names and its stack depths lay out inlined bodies. Every
// state this package writes passes.
func (s *state) check() error {
	if len(s.Programs) > MaxPrograms {
		return fmt.Errorf("%d programs, at most %d fit the dispatcher", len(s.Programs), MaxPrograms)
	}
	if err := s.counting().check(); err != nil {
		return err
	}
	if s.Retired != nil {
		if err := s.Retired.counting().check(); err != nil {
			return fmt.Errorf("retired generation: %w", err)
		}
	}
	names := make(map[string]bool, len(s.Programs))
	counters := make(map[uint32]bool, len(s.Programs))
	for _, ps := range s.Programs {
		if !ValidName(ps.Name) {
			return fmt.Errorf("bad program name %q", ps.Name)
		}
		if names[ps.Name] {
			return fmt.Errorf("program %q listed twice", ps.Name)
		}
		names[ps.Name] = true
		if ps.Counter > maxCounters || (ps.Counter != 0 && counters[ps.Counter]) {
			return fmt.Errorf("program %q: counter row %d out of range or shared", ps.Name, ps.Counter)
		}
		counters[ps.Counter] = true
		if s.Counting == countingOnce && ps.Counter == 0 {
			return fmt.Errorf("program %q: counter row 0 is the fall-through's", ps.Name)
		}
		if b, err := hex.DecodeString(ps.Object); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("program %q: object name %q is not a sha256", ps.Name, ps.Object)
		}
		if ps.Alone != "" && !isDigest(ps.Alone) {
			return fmt.Errorf("program %q: kept program %q is not a sha256", ps.Name, ps.Alone)
		}
		if len(ps.Stack) > maxStateFuncs {
			return fmt.Errorf("program %q: %d stack depths", ps.Name, len(ps.Stack))
		}
		for _, d := range ps.Stack {
			if d < 0 || d > maxStack {
				return fmt.Errorf("program %q: stack depth %d out of range [0, %d]", ps.Name, d, maxStack)
			}
		}
	}
	return checkLeases(s.Observe)
}

// maxStateFuncs bounds the functions of a program in the state (the
// kernel allows 256 subprograms).
const maxStateFuncs = 256

// What the pending state file of an interface is, for committedState.
const (
	noPending      = iota
	pendingSwapped // of the running generation: the next change commits it
	pendingStale   // never swapped in, or unreadable: the next change removes it
)

// committedState reads the chain the kernel runs, given the running
// dispatcher's program ID: the pending state when it names that program (a
// process died between the swap and the commit), else state.json. It
// changes nothing; pending says what the next change does with the pending
// file.
func (p pinDir) committedState(running uint32) (st *state, pending int, err error) {
	ps, perr := readState(p.pendingFile())
	if perr == nil && ps.DispatcherID == running {
		return ps, pendingSwapped, nil
	}
	if errors.Is(perr, ErrNewerState) {
		return nil, noPending, perr // a newer build's: not ours to finish or remove
	}
	pending = noPending
	if !errors.Is(perr, fs.ErrNotExist) {
		pending = pendingStale
	}
	st, err = readState(p.stateFile())
	return st, pending, err
}

// isTemp reports a temporary file of writeFileAtomic.
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp")
}

// removeTemps removes the temporary files that a process killed inside
// writeFileAtomic left in the interface's state and objects directories.
// Call with the lock held: no other writer is inside writeFileAtomic there.
func (p pinDir) removeTemps() {
	for _, dir := range []string{p.state, p.objectsDir()} {
		if !isRealDir(dir) {
			continue
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if isTemp(e.Name()) && !e.IsDir() {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// writeFileAtomic writes via a temporary file and rename, so readers see
// the old or the new content, never a mix, also after the writer was
// killed at any point. It does not fsync: what it writes (an interface's
// state and objects) describes pins in bpffs, which a kernel crash or a
// power loss, the only events an fsync would guard against, takes with it;
// an interface whose pins are gone is started over (read), its state
// never read. (On tmpfs, the default state directory /run/xdpchain, an
// fsync does nothing anyway; on a disk it wrote every object and state of
// every interface through to it, 10 % of the daemon's CPU starting 250
// interfaces.)
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeState(path string, s *state) error {
	s.Version = stateVersion
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}

// storeObject writes an ELF object content-addressed and returns its hash.
func (p pinDir) storeObject(obj []byte) (string, error) {
	sum := sha256.Sum256(obj)
	h := hex.EncodeToString(sum[:])
	path := filepath.Join(p.objectsDir(), h+".o")
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		return h, nil
	}
	if err := writeFileAtomic(path, obj, 0o600); err != nil {
		return "", fmt.Errorf("storing object: %w", err)
	}
	return h, nil
}

func (p pinDir) loadObject(hash string) ([]byte, error) {
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%w: object name %q in the state of %s is not a sha256", ErrInvalid, hash, p.state)
	}
	return readFileNoFollow(filepath.Join(p.objectsDir(), hash+".o"), maxStateFile)
}

// gcObjects removes stored objects no program of s refers to.
func (p pinDir) gcObjects(s *state) {
	keep := map[string]bool{}
	for _, ps := range s.Programs {
		keep[ps.Object+".o"] = true
	}
	if !isRealDir(p.objectsDir()) {
		return // never through a symbolic link
	}
	entries, _ := os.ReadDir(p.objectsDir())
	for _, e := range entries {
		if !keep[e.Name()] {
			os.Remove(filepath.Join(p.objectsDir(), e.Name()))
		}
	}
}

// removeAll deletes every pin and the state of the interface, keeping the
// (possibly locked) pin directory itself.
func (p pinDir) removeAll() error {
	var errs []error
	refs := p.aloneRefs()
	entries, _ := os.ReadDir(p.bpf)
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(p.bpf, e.Name())))
	}
	for _, d := range refs {
		p.dropAlone(d) // the programs verified alone only this root ran
	}
	return errors.Join(append(errs, os.RemoveAll(p.state))...)
}

// removeEmptyDirs removes the interface's pin directory and its network
// namespace's directories, each only if empty: another process may be
// creating a new root there.
func (p pinDir) removeEmptyDirs() {
	os.Remove(p.bpf)
	os.Remove(filepath.Dir(p.bpf))
	os.Remove(filepath.Dir(p.state))
}

// retiredRows returns the content of the counters map st.Retired counted
// in: rows (st's map's) unless st's generation replaced the map
// (growCounters), then the one st.Retired names, pinned until it is folded.
func (p pinDir) retiredRows(st *state, rows perCPURows) (perCPURows, error) {
	if st.Retired == nil || st.Retired.Counters == st.Counters {
		return rows, nil
	}
	m, err := ebpf.LoadPinnedMap(p.counters(st.Retired.Counters), nil)
	if err != nil {
		return nil, fmt.Errorf("opening the counters of the generation before the running one: %w", err)
	}
	defer m.Close()
	return counterRows(m)
}

// removeUnusedCounters removes the pins of counters maps neither st's
// generation nor the one before it (st.Retired) counts in.
func (p pinDir) removeUnusedCounters(st *state) {
	keep := map[string]bool{p.counters(st.Counters): true}
	if st.Retired != nil {
		keep[p.counters(st.Retired.Counters)] = true
	}
	entries, _ := os.ReadDir(p.bpf)
	for _, e := range entries {
		path := filepath.Join(p.bpf, e.Name())
		if (e.Name() == "stats" || counterPinName.MatchString(e.Name())) && !keep[path] {
			os.Remove(path)
		}
	}
}
