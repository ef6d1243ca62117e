package dispatcher

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Some verifier refusals come back as EFAULT ("The sequence of 8193 jumps
// is too complex" on current kernels), which the BPF library reports as
// "hit verifier bug, increase LogSizeStart" without the log. explainEFAULT
// loads the program once more with the bpf syscall itself, keeping the
// log, and returns the verifier's own reason (its last message before the
// statistics) and its log: at the statistics level (the messages and the
// counts), or with the full instruction trace when full is set (a kernel
// that keeps the log's end, 6.4+, shows how it ended). ok is false when
// that load does not fail the same way (it then says nothing).
func explainEFAULT(spec *ebpf.ProgramSpec, full bool) (reason, log string, ok bool) {
	if spec.Type != ebpf.XDP {
		return "", "", false // others need attach targets; keep the library's error
	}
	reason, log, ok = rawLoadLog(spec, ebpf.LogLevelStats, 1<<20)
	if !ok {
		return "", "", false
	}
	if full {
		if _, l, ok := rawLoadLog(spec, ebpf.LogLevelBranch|ebpf.LogLevelStats, 16<<20); ok {
			log = l
		}
	}
	return reason, log, true
}

// progLoadAttr is the start of the kernel's union bpf_attr for
// BPF_PROG_LOAD, as far as a plain XDP program needs it.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [unix.BPF_OBJ_NAME_LEN]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// rawLoadLog loads spec with BPF_PROG_LOAD at log level level into a
// buffer of size bytes, expecting EFAULT, and returns the verifier's
// reason and log.
func rawLoadLog(spec *ebpf.ProgramSpec, level ebpf.LogLevel, size int) (reason, log string, ok bool) {
	insns := append(spec.Instructions[:0:0], spec.Instructions...)
	var code bytes.Buffer
	// The objects xdpchain loads are bpfel (the library accepts only its
	// named byte orders).
	if err := insns.Marshal(&code, binary.LittleEndian); err != nil {
		return "", "", false
	}
	license := append([]byte(spec.License), 0)
	buf := make([]byte, size)
	attr := progLoadAttr{
		progType:           uint32(spec.Type),
		insnCnt:            uint32(code.Len() / 8),
		insns:              uint64(uintptr(unsafe.Pointer(&code.Bytes()[0]))),
		license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
		logLevel:           uint32(level),
		logSize:            uint32(size),
		logBuf:             uint64(uintptr(unsafe.Pointer(&buf[0]))),
		progFlags:          spec.Flags,
		expectedAttachType: uint32(spec.AttachType),
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(code.Bytes())
	runtime.KeepAlive(license)
	runtime.KeepAlive(buf)
	runtime.KeepAlive(insns)
	if errno == 0 {
		unix.Close(int(fd))
		return "", "", false
	}
	if !errors.Is(errno, unix.EFAULT) {
		return "", "", false
	}
	log = string(bytes.TrimRight(buf[:max(0, bytes.IndexByte(buf, 0))], "\n"))
	reason = verifierReason(log)
	return reason, log, reason != ""
}

// verifierReason is the verifier's last message in log that is not one of
// its statistics lines.
func verifierReason(log string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		switch {
		case l == "",
			strings.HasPrefix(l, "processed "),
			strings.HasPrefix(l, "verification time"),
			strings.HasPrefix(l, "stack depth"),
			strings.HasPrefix(l, "func#"):
			continue
		}
		return strings.TrimSuffix(l, ".")
	}
	return ""
}

// withVerifierReason replaces a load error that is an EFAULT without the
// verifier's log by one that gives the verifier's reason (and its log in
// the ProgramError).
func withVerifierReason(pe *ProgramError, spec *ebpf.ProgramSpec, err error, full bool) {
	if !errors.Is(err, unix.EFAULT) || pe.VerifierLog != "" {
		return
	}
	reason, log, ok := explainEFAULT(spec, full)
	if !ok {
		return
	}
	pe.Err = fmt.Errorf("%w: the verifier refused the program: %s", ErrLoad, reason)
	pe.VerifierLog = log
}
