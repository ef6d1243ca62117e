package vmtest

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/xdpchain/xdpchain/xdp"
)

func runXDP(t *testing.T, prog *ebpf.Program) xdp.Verdict {
	t.Helper()
	ret, err := prog.Run(&ebpf.RunOptions{Data: make([]byte, 64)})
	if err != nil {
		t.Fatalf("running %v: %v", prog, err)
	}
	return xdp.Verdict(ret)
}

// TestFreplace is the probe that matters most: on the host it skips with
// the kernel's reason, in a harness VM it must load, attach and change the
// target's verdict, including on a second target (multi-attach, which
// rebuilding dispatcher generations needs).
func TestFreplace(t *testing.T) {
	LogWhere(t)
	if err := ProbeFreplace(); err != nil && !errors.Is(err, ErrNoTrampolines) {
		t.Fatalf("probe failed for a reason other than trampolines: %v", err)
	}
	RequireFreplace(t)

	fp, err := LoadFreplacePair()
	if err != nil {
		t.Fatal(err)
	}
	defer fp.Close()
	if got := runXDP(t, fp.Target); got != xdp.Pass {
		t.Fatalf("target before attach returned %d, want XDP_PASS", got)
	}

	l, err := fp.Attach()
	if err != nil {
		t.Fatal(err)
	}
	if got := runXDP(t, fp.Target); got != xdp.Drop {
		t.Fatalf("target with extension returned %d, want XDP_DROP", got)
	}

	// The same extension attached to a second target (multi-attach).
	second, err := LoadFreplacePair()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	fp2 := &FreplacePair{Target: second.Target, Extension: fp.Extension}
	l2, err := fp2.Attach()
	if err != nil {
		t.Fatalf("attaching a loaded extension to a second target: %v", err)
	}
	if got := runXDP(t, second.Target); got != xdp.Drop {
		t.Fatalf("second target with extension returned %d, want XDP_DROP", got)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := runXDP(t, second.Target); got != xdp.Pass {
		t.Fatalf("second target after detach returned %d, want XDP_PASS", got)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := runXDP(t, fp.Target); got != xdp.Pass {
		t.Fatalf("target after detach returned %d, want XDP_PASS", got)
	}
}

// TestFreplaceProbeResult checks the probe's verdict: in a VM freplace
// must work; where it is refused, the reason must name the kernel's errno.
func TestFreplaceProbeResult(t *testing.T) {
	LogWhere(t)
	err := ProbeFreplace()
	if InVM() {
		if err != nil {
			t.Fatalf("freplace refused in a VM: %v", err)
		}
		return
	}
	if err == nil {
		t.Skipf("freplace works on %s; no refusal to check", Where())
	}
	if !errors.Is(err, ErrNoTrampolines) {
		t.Fatalf("refusal does not wrap ErrNoTrampolines: %v", err)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		t.Fatalf("refusal does not carry the errno: %v", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "MEMLOCK") {
		t.Errorf("reason %q blames MEMLOCK", msg)
	}
	if !strings.HasPrefix(msg, "kernel refuses BPF trampolines: E") {
		t.Fatalf("reason %q does not name an errno", msg)
	}
	t.Logf("host reason: %s", msg)
}
