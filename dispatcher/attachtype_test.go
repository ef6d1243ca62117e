package dispatcher

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestForeignAttachType: a root whose running dispatcher was loaded with
// another expected attach type than this build's (BPF_XDP), as another
// release or tool might have, cannot be swapped by a link update (the
// kernel keeps a link's expected attach type; 6.18 returns EINVAL). The
// change fails saying exactly that and what to do, and changes nothing.
func TestForeignAttachType(t *testing.T) {
	vmtest.LogWhere(t)
	ns, opts := loOptions(t)
	r, err := Attach("lo", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := DetachInterface("lo", opts); err != nil {
			t.Errorf("detaching: %v", err)
		}
	})
	// Re-make the root's link with a dispatcher loaded without an expected
	// attach type, and record it in the state as the running one.
	foreign, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, AttachType: ebpf.AttachNone, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, int32(Pass)), asm.Return()}})
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	id, err := programID(foreign)
	if err != nil {
		t.Fatal(err)
	}
	ifindex := r.ifindex
	if err := r.link.Unpin(); err != nil {
		t.Fatal(err)
	}
	r.Close() // the old link goes with its last reference
	var l link.Link
	testutil.InNetNS(t, ns, func() error {
		var err error
		l, err = link.AttachXDP(link.XDPOptions{Program: foreign, Interface: ifindex, Flags: link.XDPGenericMode})
		return err
	})
	defer l.Close()
	if err := l.Pin(r.pins.link()); err != nil {
		t.Fatal(err)
	}
	r.st.DispatcherID = id
	if err := writeState(r.pins.stateFile(), r.st); err != nil {
		t.Fatal(err)
	}
	stateBefore, _ := os.ReadFile(r.pins.stateFile())

	r2, err := Open("lo", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	p, err := NewProgram("counter", testprogs.Object(testprogs.Counter), testprogs.Program(testprogs.Counter))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r2.Update(func(s *Spec) error { s.Programs = append(s.Programs, p); return nil })
	switch {
	case err == nil:
		// Kernels before the check (6.1, 6.12) swap: the chain is this
		// build's from now on.
		st, serr := r2.Status()
		if serr != nil || len(st.Programs) != 1 || st.Programs[0].Name != "counter" {
			t.Fatalf("the swap succeeded on %s, but the status is %+v (%v)", vmtest.Where(), st, serr)
		}
		t.Logf("on %s the kernel swaps between expected attach types: the chain is this build's", vmtest.Where())
		return
	case !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "EINVAL") || !strings.Contains(err.Error(), "expected attach type") || !errors.Is(err, ErrRootMustBeRecreated) || strings.Contains(err.Error(), "xdpchain detach"):
		t.Errorf("the refusal does not say why and what to do: %v", err)
	default:
		t.Logf("%v", err)
	}
	if after, _ := os.ReadFile(r.pins.stateFile()); string(after) != string(stateBefore) {
		t.Error("the refused swap changed the state")
	}
	if _, err := os.Stat(r.pins.pendingFile()); !os.IsNotExist(err) {
		t.Errorf("the refused swap left a pending state: %v", err)
	}
	info, err := l.Info()
	if err != nil || ebpf.ProgramID(info.Program) != ebpf.ProgramID(id) {
		t.Errorf("the link runs program %v (%v), want the foreign dispatcher %d", info, err, id)
	}
}
