package dispatcher_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// libxdpDispatcher is xdp-tools' dispatcher object, present where the
// xdp-tools package is installed.
const libxdpDispatcher = "/usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o"

// loadLibxdpDispatcher loads libxdp's dispatcher as its object is (no
// programs configured), closed when the test ends.
func loadLibxdpDispatcher(t *testing.T) *ebpf.Program {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(libxdpDispatcher)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Skipf("libxdp's dispatcher does not load on this kernel: %v", err)
	}
	t.Cleanup(func() { coll.Close() })
	p := coll.Programs["xdp_dispatcher"]
	if p == nil {
		t.Fatalf("%s has no xdp_dispatcher program", libxdpDispatcher)
	}
	return p
}

// loadVerdictProgram loads a verdict_* object as a plain XDP program,
// closed when the test ends.
func loadVerdictProgram(t *testing.T, object string) *ebpf.Program {
	t.Helper()
	spec, err := testprogs.Spec(object)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("loading %s: %v", object, err)
	}
	t.Cleanup(func() { coll.Close() })
	return coll.Programs[testprogs.Program(object)]
}

// netlinkAttach attaches prog to an interface the old way, by netlink,
// with XDP_FLAGS_* flags; fd -1 detaches.
func netlinkAttach(ns *testutil.NetNS, ifname string, fd, flags int) error {
	return ns.Do(func() error {
		l, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(l, fd, flags)
	})
}

func programIDOf(t *testing.T, p *ebpf.Program) uint32 {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return uint32(id)
}

// TestRootRefusesOtherAttachments attaches other programs over the root,
// by netlink in every mode and with `ip link set ... xdp obj`: all are
// refused and the chain keeps working.
func TestRootRefusesOtherAttachments(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := baseline(t, f)
		st := status(t, r)
		intact := func(t *testing.T) {
			t.Helper()
			if x := xdpOf(t, f.recv, f.iface()); x == nil || x.ProgId != st.DispatcherID {
				t.Errorf("netlink reports %+v, want the dispatcher %d", x, st.DispatcherID)
			}
			if got := status(t, r); got.DispatcherID != st.DispatcherID || got.LinkID != st.LinkID {
				t.Errorf("root changed: %+v", got)
			}
		}

		intruder := loadVerdictProgram(t, testprogs.VerdictPass)
		for _, flags := range []struct {
			name  string
			flags int
		}{
			{"default", 0},
			{"update-if-noexist", nl.XDP_FLAGS_UPDATE_IF_NOEXIST},
			{"skb", nl.XDP_FLAGS_SKB_MODE},
			{"drv", nl.XDP_FLAGS_DRV_MODE},
			{"detach", -1},
		} {
			t.Run("netlink "+flags.name, func(t *testing.T) {
				fd, fl := intruder.FD(), flags.flags
				if fl < 0 {
					fd, fl = -1, 0
				}
				err := netlinkAttach(f.recv, f.iface(), fd, fl)
				if err == nil {
					t.Errorf("netlink %s attach over the root succeeded", flags.name)
				}
				t.Logf("refused: %v", err)
				intact(t)
			})
		}

		t.Run("ip link", func(t *testing.T) {
			obj, err := testprogs.WriteFile(t.TempDir(), testprogs.VerdictDrop)
			if err != nil {
				t.Fatal(err)
			}
			// Control: ip must be able to attach the object where no
			// root is, or its refusal below would prove nothing.
			other := testutil.NewVethPair(t, f.recv, f.recv, nil)
			ctl := exec.Command("ip", "-n", f.recv.Name, "link", "set", "dev", other.A.Name, "xdpgeneric", "obj", obj, "sec", "xdp")
			if out, err := ctl.CombinedOutput(); err != nil {
				t.Skipf("this ip cannot attach XDP objects (%v: %s); the netlink cases above cover the refusal", err, strings.TrimSpace(string(out)))
			}
			exec.Command("ip", "-n", f.recv.Name, "link", "set", "dev", other.A.Name, "xdpgeneric", "off").Run()

			for _, mode := range []string{"xdp", "xdpgeneric", "xdpdrv"} {
				out, err := exec.Command("ip", "-n", f.recv.Name, "link", "set", "dev", f.iface(), mode, "obj", obj, "sec", "xdp").CombinedOutput()
				if err == nil {
					t.Errorf("ip link set %s obj over the root succeeded", mode)
				}
				t.Logf("ip link set %s: %v: %s", mode, err, strings.TrimSpace(string(out)))
				intact(t)
			}
			out, err := exec.Command("ip", "-n", f.recv.Name, "link", "set", "dev", f.iface(), "xdp", "off").CombinedOutput()
			t.Logf("ip link set xdp off: %v: %s", err, strings.TrimSpace(string(out)))
			intact(t)
		})
		f.expectServing(t)
	})
}

// TestForeignProgramRefused attaches a program that is not ours, by
// netlink and by a bpf_link, and checks that Attach refuses the interface,
// names the program, and leaves it running.
func TestForeignProgramRefused(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		foreign := loadVerdictProgram(t, testprogs.VerdictPass)
		id := programIDOf(t, foreign)
		refused := func(t *testing.T, how string) {
			t.Helper()
			_, err := dispatcher.Attach(f.iface(), f.opts())
			if !errors.Is(err, dispatcher.ErrForeignProgram) {
				t.Fatalf("Attach over a %s program: %v, want ErrForeignProgram", how, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprint(id)) || !strings.Contains(msg, testprogs.Program(testprogs.VerdictPass)) {
				t.Errorf("error does not name program %d %q: %s", id, testprogs.Program(testprogs.VerdictPass), msg)
			}
			if x := xdpOf(t, f.recv, f.iface()); x == nil || x.ProgId != id {
				t.Errorf("foreign program replaced: netlink reports %+v", x)
			}
			all, err := dispatcher.List(f.opts())
			if err != nil || len(all) != 0 {
				t.Errorf("refused Attach left a root: %+v, %v", all, err)
			}
		}

		t.Run("netlink", func(t *testing.T) {
			if err := netlinkAttach(f.recv, f.iface(), foreign.FD(), nl.XDP_FLAGS_DRV_MODE); err != nil {
				t.Fatal(err)
			}
			refused(t, "netlink-attached")
			if err := netlinkAttach(f.recv, f.iface(), -1, nl.XDP_FLAGS_DRV_MODE); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("bpf_link", func(t *testing.T) {
			var l link.Link
			err := f.recv.Do(func() (err error) {
				l, err = link.AttachXDP(link.XDPOptions{Program: foreign, Interface: f.pair.B.Index})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			refused(t, "bpf_link-attached")
			l.Close()
		})
		t.Run("libxdp dispatcher", func(t *testing.T) {
			if _, err := os.Stat(libxdpDispatcher); err != nil {
				t.Skipf("no libxdp dispatcher object here (%v): install xdp-tools to test its recognition", err)
			}
			p := loadLibxdpDispatcher(t)
			if err := netlinkAttach(f.recv, f.iface(), p.FD(), nl.XDP_FLAGS_SKB_MODE); err != nil {
				t.Fatal(err)
			}
			defer netlinkAttach(f.recv, f.iface(), -1, nl.XDP_FLAGS_SKB_MODE)
			_, err := dispatcher.Attach(f.iface(), f.opts())
			if !errors.Is(err, dispatcher.ErrForeignProgram) || !strings.Contains(err.Error(), "libxdp dispatcher") {
				t.Errorf("Attach over libxdp's dispatcher: %v, want ErrForeignProgram that recognises it", err)
			}
		})

		// Once the interface is free, the root attaches.
		r := f.attach(t)
		if x := xdpOf(t, f.recv, f.iface()); x == nil || x.ProgId != status(t, r).DispatcherID {
			t.Errorf("after the foreign program left, netlink reports %+v", x)
		}
	})
}

// TestIPNetnsExecRefused runs the CLI inside `ip netns exec`, whose
// private mount namespace has no bpffs at /sys/fs/bpf: it must refuse,
// point to --netns, and attach nothing.
func TestIPNetnsExecRefused(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Linked)
	bin := testutil.XDPChainBinary(t)
	if out, err := exec.Command("ip", "netns", "exec", f.recv.Name, "true").CombinedOutput(); err != nil {
		t.Skipf("this ip has no working `netns exec` (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	dir := t.TempDir()
	obj, err := testprogs.WriteFile(dir, testprogs.DropPort)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	cmd := exec.Command("ip", "netns", "exec", f.recv.Name, bin, "load", "--state-dir", state, f.iface(), obj)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("xdpchain load inside ip netns exec: %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "--netns") {
		t.Errorf("the error does not say to use --netns: %s", out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 {
		t.Errorf("error is %d lines, want one: %s", len(lines), out)
	}
	t.Logf("refused: %s", strings.TrimSpace(string(out)))
	if x := xdpOf(t, f.recv, f.iface()); x != nil {
		t.Errorf("program %d attached despite the refusal", x.ProgId)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state written despite the refusal: %v", err)
	}

	// What the error advises works: the same load from outside, --netns.
	if _, errOut, code := runBin(t, append(f.cliArgs(), "load", f.iface(), obj)...); code != 0 {
		t.Fatalf("load with --netns: exit %d: %s", code, errOut)
	}
	if x := xdpOf(t, f.recv, f.iface()); x == nil {
		t.Error("load with --netns attached nothing")
	}
}
