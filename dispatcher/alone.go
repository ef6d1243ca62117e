package dispatcher

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Programs verified alone, kept (verify-alone).
//
// Every program of a chain is first loaded on its own as a plain XDP
// program (aloneSpec: its instructions with the maps the chain's copy
// uses), so that a verifier rejection names it and the verifier reports
// its stack depths, which inlining needs. That kernel program is kept
// loaded for as long as a chain runs the program, so that the ecosystem's
// tools see each program of a chain whatever the mechanism: `bpftool prog
// show id N` and `bpftool prog dump xlated id N` show its code and its maps
// (status: alone_id). It is attached nowhere and never runs: the program's
// run counts live in xdpchain's counters.
//
// It is kept once per distinct program, shared by every interface (and
// every mechanism) that runs it, and it is the verify-alone cache across
// interfaces and processes: a program is identified by a digest of what
// the kernel verified (aloneDigest: type, flags, name, license,
// instructions, the kernel IDs of the maps they use, the device a bound
// program is bound to, whether it was verified as an unprivileged caller's),
// and a digest already kept is not verified again. Under the bpffs
// (docs/pins.md):
//
//	<bpffs>/xdpchain/programs/<digest>/
//	    prog                the program (the directory is flock'd while it is looked up, created or removed)
//	    stack               a symbolic link, never followed: the stack depths the verifier reported ("48+0+16"), or "unknown:<why>"
//	<bpffs>/xdpchain/<netns inode>/<ifindex>/alone/<digest>
//	                        a symbolic link, never followed: the interface's chain runs the program (a reference)
//
// An interface takes its references while a change prepares its slots,
// and drops those its committed chain no longer runs after the swap (or
// when the change fails); a detach drops all of its references. A program
// no interface references is removed (dropAlone), and so is one that a
// crashed process left unreferenced, by the next sweep (pruneAlone, with
// the stale roots').

// aloneProgPin and aloneStackLink are the entries of a kept program's
// directory.
const (
	aloneProgPin   = "prog"
	aloneStackLink = "stack"
)

// keptProgram is a slot's program verified alone, as kept.
type keptProgram struct {
	digest string
	id     uint32
	// frames are the verifier's stack depths, nil when unknown (and
	// unknown says why).
	frames  []int
	unknown string
}

func (p pinDir) xdpchainDir() string { return filepath.Dir(filepath.Dir(p.bpf)) }
func (p pinDir) programsDir() string { return filepath.Join(p.xdpchainDir(), "programs") }
func (p pinDir) aloneDir() string    { return filepath.Join(p.bpf, "alone") }

// aloneDigest identifies a program as the kernel verifies it alone.
func aloneDigest(spec *ebpf.ProgramSpec, unprivileged bool, dev *device) (string, error) {
	h := sha256.New()
	var b []byte
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(v uint64) { b = binary.AppendUvarint(b, v) }
	str("xdpchain alone 1")
	str(spec.Name)
	str(spec.License)
	num(uint64(spec.Type))
	num(uint64(spec.AttachType))
	num(uint64(spec.Flags))
	if unprivileged {
		num(1)
	} else {
		num(0)
	}
	if dev != nil {
		num(dev.ns.inode)
		num(uint64(dev.ifindex))
	} else {
		num(0)
	}
	ids := map[asm.FDer]uint64{}
	for _, ins := range spec.Instructions {
		num(uint64(ins.OpCode))
		num(uint64(ins.Dst)<<8 | uint64(ins.Src))
		num(uint64(uint16(ins.Offset)))
		if ins.Map() != nil {
			num(uint64(ins.Constant) >> 32) // a direct load's offset; the rest is a file descriptor when loaded
		} else {
			num(uint64(ins.Constant))
		}
		str(ins.Reference())
		str(ins.Symbol())
		if src := ins.Source(); src != nil {
			str(src.String())
		} else {
			str("")
		}
		if m := ins.Map(); m != nil {
			id, ok := ids[m]
			if !ok {
				em, isMap := m.(*ebpf.Map)
				if !isMap {
					return "", fmt.Errorf("map reference %q is not a map", ins.Reference())
				}
				info, err := em.Info()
				if err != nil {
					return "", fmt.Errorf("map %q: %w", ins.Reference(), err)
				}
				mid, ok := info.ID()
				if !ok {
					return "", fmt.Errorf("map %q: the kernel reports no ID", ins.Reference())
				}
				id = uint64(mid)
				ids[m] = id
			}
			num(id)
		} else {
			num(0)
		}
		if len(b) > 4096 {
			h.Write(b)
			b = b[:0]
		}
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isDigest reports whether name is a digest (a sha256 in hex).
func isDigest(name string) bool {
	b, err := hex.DecodeString(name)
	return err == nil && len(b) == sha256.Size
}

// keepAlone returns the slot's program verified alone, kept: the one
// already kept for its digest (not verified again), or the program loaded
// and verified now (a rejection is a *ProgramError naming it), pinned. The
// interface takes a reference to it. Call with the interface's lock held.
func (p pinDir) keepAlone(checked *dirChecks, s *slot, unprivileged, logs bool) (keptProgram, error) {
	digest, err := aloneDigest(s.alone, unprivileged, s.dev)
	if err != nil {
		return keptProgram{}, &ProgramError{Program: s.Name, Err: fmt.Errorf("identifying the program: %w", err)}
	}
	k := keptProgram{digest: digest}
	dir := filepath.Join(p.programsDir(), digest)
	if _, err := checked.secureDir(p.xdpchainDir(), dir, true); err != nil {
		return k, err
	}
	lock, err := lockDir(dir, true)
	if err != nil {
		return k, err
	}
	defer lock.Unlock()
	pin := filepath.Join(dir, aloneProgPin)
	found := false
	if prog, err := ebpf.LoadPinnedProgram(pin, nil); err == nil {
		var ok bool
		if k.frames, k.unknown, ok = readStackLink(dir); ok {
			k.id, err = programID(prog)
			found = err == nil
		}
		prog.Close()
	}
	if !found {
		prog, frames, unknown, err := loadAlone(s, unprivileged, logs)
		if err != nil {
			os.Remove(dir) // only when empty: nothing was kept for it
			return k, err
		}
		defer prog.Close()
		k.frames, k.unknown = frames, unknown
		if k.id, err = programID(prog); err != nil {
			return k, err
		}
		// The stack depths first: a program pinned has them.
		if err := writeStackLink(dir, frames, unknown); err != nil {
			return k, err
		}
		if err := replacePin(pin, prog.Pin); err != nil {
			return k, fmt.Errorf("pinning the program %q verified alone: %w", s.Name, err)
		}
	}
	if _, err := checked.secureDir(p.xdpchainDir(), p.aloneDir(), true); err != nil {
		return k, err
	}
	ref := filepath.Join(p.aloneDir(), digest)
	if _, err := os.Lstat(ref); err != nil {
		if err := os.Symlink(filepath.Join("..", "..", "..", "programs", digest), ref); err != nil {
			return k, fmt.Errorf("referencing the program %q verified alone: %w", s.Name, err)
		}
	}
	return k, nil
}

// writeStackLink records the verifier's stack depths of a kept program.
func writeStackLink(dir string, frames []int, unknown string) error {
	target := "unknown:" + unknown
	if frames != nil {
		parts := make([]string, len(frames))
		for i, f := range frames {
			parts[i] = strconv.Itoa(f)
		}
		target = strings.Join(parts, "+")
	}
	path := filepath.Join(dir, aloneStackLink)
	os.Remove(path)
	return os.Symlink(target, path)
}

// readStackLink reads what writeStackLink wrote; ok is false when there is
// nothing valid.
func readStackLink(dir string) (frames []int, unknown string, ok bool) {
	target, err := os.Readlink(filepath.Join(dir, aloneStackLink))
	if err != nil {
		return nil, "", false
	}
	if why, isUnknown := strings.CutPrefix(target, "unknown:"); isUnknown {
		return nil, why, true
	}
	for _, f := range strings.Split(target, "+") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > maxStack || len(frames) >= maxStateFuncs {
			return nil, "", false
		}
		frames = append(frames, n)
	}
	return frames, "", true
}

// cleanupAlone drops the interface's references to kept programs its
// committed chain st does not run (a change that failed or was replaced,
// or a process that died) and removes those programs when nothing else
// references them. Call with the interface's lock held.
func (p pinDir) cleanupAlone(st *state) {
	if !isRealDir(p.aloneDir()) {
		return
	}
	keep := map[string]bool{}
	for _, ps := range st.Programs {
		keep[ps.Alone] = true
	}
	entries, _ := os.ReadDir(p.aloneDir())
	for _, e := range entries {
		if keep[e.Name()] && isDigest(e.Name()) {
			continue
		}
		os.Remove(filepath.Join(p.aloneDir(), e.Name()))
		p.dropAlone(e.Name())
	}
	os.Remove(p.aloneDir()) // only when empty
}

// aloneRefs lists the digests the interface references.
func (p pinDir) aloneRefs() []string {
	if !isRealDir(p.aloneDir()) {
		return nil
	}
	entries, _ := os.ReadDir(p.aloneDir())
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// dropAlone removes the kept program of digest when no interface under
// the bpffs references it any more.
func (p pinDir) dropAlone(digest string) {
	if !isDigest(digest) {
		return
	}
	dropAloneUnder(p.xdpchainDir(), digest, false)
}

// dropAloneUnder removes the kept program of digest under base
// (<bpffs>/xdpchain) unless an interface references it; with try it
// leaves one whose lock another process holds.
func dropAloneUnder(base, digest string, try bool) {
	dir := filepath.Join(base, "programs", digest)
	var lock *dirLock
	var err error
	if try {
		lock, err = tryLockDir(dir)
	} else {
		lock, err = lockDir(dir, false)
	}
	if err != nil || lock == nil {
		return // gone, or in use
	}
	defer lock.Unlock()
	if aloneReferenced(base, digest) {
		return
	}
	os.RemoveAll(dir) // under the lock: a process waiting for it starts over
	os.Remove(filepath.Dir(dir))
}

// aloneReferenced reports whether any interface under base references
// digest.
func aloneReferenced(base, digest string) bool {
	found := false
	eachRootDir(base, func(dir string) bool {
		if _, err := os.Lstat(filepath.Join(dir, "alone", digest)); err == nil {
			found = true
		}
		return !found
	})
	return found
}

// eachRootDir calls fn with every interface's pin directory under base
// (<bpffs>/xdpchain/<netns inode>/<ifindex>) until fn returns false.
func eachRootDir(base string, fn func(dir string) bool) {
	nsDirs, _ := os.ReadDir(base)
	for _, nsd := range nsDirs {
		if _, err := strconv.ParseUint(nsd.Name(), 10, 64); err != nil {
			continue
		}
		ifDirs, _ := os.ReadDir(filepath.Join(base, nsd.Name()))
		for _, ifd := range ifDirs {
			if idx, err := strconv.Atoi(ifd.Name()); err != nil || idx <= 0 {
				continue
			}
			if !fn(filepath.Join(base, nsd.Name(), ifd.Name())) {
				return
			}
		}
	}
}

// pruneAlone removes the kept programs under base that no interface
// references: those a process killed between taking a reference and
// recording it left, or whose last reference went with a root removed
// without its clean-up. Each is removed under its lock after checking
// again; one locked by another process is left for later.
func pruneAlone(base string) {
	entries, err := os.ReadDir(filepath.Join(base, "programs"))
	if err != nil {
		return
	}
	referenced := map[string]bool{}
	eachRootDir(base, func(dir string) bool {
		refs, _ := os.ReadDir(filepath.Join(dir, "alone"))
		for _, r := range refs {
			referenced[r.Name()] = true
		}
		return true
	})
	for _, e := range entries {
		if !referenced[e.Name()] && isDigest(e.Name()) {
			dropAloneUnder(base, e.Name(), true)
		}
	}
}

// aloneSpec is a slot's program as a plain XDP program of its own. The
// attach type is the dispatcher's (ebpf.AttachXDP, as SEC("xdp") gives),
// so that maps owned by the program alone, such as a PROG_ARRAY, accept the
// dispatcher too.
func aloneSpec(insns asm.Instructions, ps *ebpf.ProgramSpec) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{
		Name:         ps.Name,
		Type:         ebpf.XDP,
		AttachType:   ebpf.AttachXDP,
		License:      ps.License,
		Flags:        ps.Flags,
		Instructions: insns,
	}
}

// verifyAlone loads a slot's program on its own (s.alone), verified as
// unprivileged when asked, so that a verifier rejection names it, and
// returns the stack depth of each of its functions, or nil and why they are
// not known. With verifier statistics the kernel's error line would be a
// statistics line, so a rejected program is loaded again without them for
// the error.
func verifyAlone(s *slot, unprivileged, logs bool) (frames []int, unknown string, err error) {
	p, frames, unknown, err := loadAlone(s, unprivileged, logs)
	if p != nil {
		p.Close()
	}
	return frames, unknown, err
}

// loadAlone is verifyAlone returning the loaded program too (nil when it
// failed), for the caller to keep or close.
func loadAlone(s *slot, unprivileged, logs bool) (p *ebpf.Program, frames []int, unknown string, err error) {
	err = s.dev.load(func() error {
		return loadAs(unprivileged, func() (err error) {
			p, err = ebpf.NewProgramWithOptions(s.alone, ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats})
			return err
		})
	})
	if errors.Is(err, errCapabilities) {
		return nil, nil, "", &ProgramError{Program: s.Name, Err: err}
	}
	if err != nil {
		statsErr := err
		err := s.dev.load(func() error {
			return loadAs(unprivileged, func() (err error) {
				p, err = loadProgram(s.Name, s.alone, logs)
				return err
			})
		})
		if err != nil {
			return nil, nil, "", err
		}
		// Loadable without statistics: no depths, the slot is called.
		return p, nil, "the verifier refused it with statistics on (" + firstLine(statsErr) + ")", nil
	}
	depths, err := stackDepths(p.VerifierLog)
	if err != nil {
		return p, nil, err.Error(), nil
	}
	funcs := splitFunctions(s.alone.Instructions)
	if len(depths) == len(funcs) {
		return p, depths, "", nil
	}
	frames, err = keptFrames(p, funcs, depths)
	if err != nil {
		return p, nil, fmt.Sprintf("the verifier reported %d stack depths for its %d functions, and which functions it kept is unknown: %v", len(depths), len(funcs), err), nil
	}
	return p, frames, "", nil
}

// keptFrames matches the stack depths the verifier reported for a loaded
// program to its functions. The privileged verifier removes functions it
// proves unreachable (never called, say, behind a branch on a .rodata
// constant) before it reports the depths, one per function it kept; the
// kernel's function information (BPF_OBJ_GET_INFO func_info) names those,
// in the same order. A removed function never runs: its frame is 0 (as
// the kernel counts a function it never visited).
func keptFrames(p *ebpf.Program, funcs []function, depths []int) ([]int, error) {
	info, err := p.Info()
	if err != nil {
		return nil, err
	}
	kept, err := info.FuncInfos()
	if err != nil {
		return nil, fmt.Errorf("reading its function information: %w", err)
	}
	if len(kept) != len(depths) {
		return nil, fmt.Errorf("the kernel lists %d functions", len(kept))
	}
	index := make(map[string]int, len(funcs))
	for i, f := range funcs {
		index[f.name] = i
	}
	frames := make([]int, len(funcs))
	seen := make([]bool, len(funcs))
	for i, k := range kept {
		if k.Func == nil {
			return nil, fmt.Errorf("function %d has no name", i)
		}
		j, ok := index[k.Func.Name]
		if !ok || seen[j] {
			return nil, fmt.Errorf("the kernel lists function %q, which the program has not or twice", k.Func.Name)
		}
		seen[j] = true
		frames[j] = depths[i]
	}
	if !seen[0] {
		return nil, fmt.Errorf("the kernel does not list the entry function %q", funcs[0].name)
	}
	return frames, nil
}

// verifySlot gives a prepared slot its stack depths: a new or changed
// program is verified alone first, so that a rejection names it, and the
// verifier reports them. With keep the program verified alone is kept
// (keepAlone; one already kept is not verified again), for every slot of a
// change; without it (a committed program loaded for another use) an
// unchanged program keeps the depths its state recorded.
func (r *Root) verifySlot(sl *slot, old programState, keep bool) error {
	if !sl.fresh {
		sl.frames = old.Stack
	}
	switch {
	case keep:
		if r.dirs == nil {
			r.dirs = newDirChecks()
		}
		k, err := r.pins.keepAlone(r.dirs, sl, sl.Unprivileged, r.opts.VerifierLogs)
		if err != nil {
			return err
		}
		sl.kept = k
		if sl.fresh || sl.frames == nil {
			sl.frames, sl.stackUnknown = k.frames, k.unknown
		}
	case sl.fresh:
		var err error
		if sl.frames, sl.stackUnknown, err = verifyAlone(sl, sl.Unprivileged, r.opts.VerifierLogs); err != nil {
			return err
		}
	}
	if sl.frames != nil {
		var gerr error
		if sl.graph, gerr = newCallGraph(sl.insns, sl.frames); gerr != nil {
			sl.frames, sl.stackUnknown = nil, "its functions do not match the verifier's stack depths: "+gerr.Error()
		}
	}
	return nil
}
