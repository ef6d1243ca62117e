package dispatcher

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"

	"github.com/xdpchain/xdpchain/internal/nlretry"
)

func TestFeatures(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	features := Features()
	if len(features) != 6 {
		t.Fatalf("%d features, want 6: %+v", len(features), features)
	}
	seen := map[string]bool{}
	for _, f := range features {
		t.Logf("%+v", f)
		if f.Name == "" || seen[f.Name] {
			t.Errorf("feature name %q empty or repeated", f.Name)
		}
		seen[f.Name] = true
		if f.Supported != (f.Reason == "") {
			t.Errorf("%s: supported %v with reason %q; a reason goes with every missing feature and only with those", f.Name, f.Supported, f.Reason)
		}
	}
	// Every kernel xdpchain runs on has these.
	for i, name := range []string{"bpf() system call", "bpf_link XDP attach", "bpf_link XDP update", "", "XDP multi-buffer frags", "BPF_PROG_TEST_RUN"} {
		if name == "" {
			continue
		}
		if !strings.HasPrefix(features[i].Name, name) || !features[i].Supported {
			t.Errorf("feature %d: %+v, want %q supported", i, features[i], name)
		}
	}
	fr := features[3]
	if !strings.HasPrefix(fr.Name, "freplace") {
		t.Fatalf("feature 3 is %q, want freplace", fr.Name)
	}
	for _, m := range MechanismSupport() {
		if m.Name == string(Freplace) && m.Supported != fr.Supported {
			t.Errorf("freplace supported %v as a feature, %v as a mechanism", fr.Supported, m.Supported)
		}
	}
	if vmtest.InVM() && vmtest.FreplaceRequired() && !fr.Supported {
		t.Errorf("freplace missing in the VM: %s", fr.Reason)
	}
}

func TestProbeFreplaceLeavesNothing(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	before := threadNetNS(t)
	links, err := nlretry.Dump(netlink.LinkList)
	if err != nil {
		t.Fatal(err)
	}
	err = probeFreplace()
	t.Logf("freplace probe: %v", err)
	if err != nil && !errors.Is(err, ErrNotSupported) {
		t.Errorf("probe failed with %v, want nil or ErrNotSupported", err)
	}
	if _, err := probeXDPLink(); err != nil {
		t.Errorf("XDP link probe: %v", err)
	}
	if threadNetNS(t) != before {
		t.Error("a probe left the thread in another network namespace")
	}
	after, err := nlretry.Dump(netlink.LinkList)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(links) {
		t.Errorf("%d interfaces before the probes, %d after", len(links), len(after))
	}
}

func TestInTempNetNS(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNetNS(t)
	var inside []uint64
	for range 2 {
		err := inTempNetNS(func() error {
			inside = append(inside, threadNetNS(t))
			links, err := nlretry.Dump(netlink.LinkList)
			if err != nil {
				return err
			}
			if len(links) != 1 || links[0].Attrs().Name != "lo" {
				return fmt.Errorf("%d interfaces in the new namespace, want lo only", len(links))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if inside[0] == before || inside[1] == before || inside[0] == inside[1] {
		t.Errorf("namespaces: caller %d, runs %v; want a new one each time", before, inside)
	}
	if after := threadNetNS(t); after != before {
		t.Errorf("thread left in %d, was in %d", after, before)
	}
	sentinel := errors.New("fn failed")
	if err := inTempNetNS(func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("fn's error: %v", err)
	}
}

func TestTrampolineError(t *testing.T) {
	eperm := fmt.Errorf("loading: %w", unix.EPERM)
	if err := trampolineError(eperm); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "EPERM") {
		t.Errorf("EPERM: %v, want ErrNotSupported naming EPERM", err)
	}
	if err := trampolineError(fmt.Errorf("x: %w", ebpf.ErrNotSupported)); !errors.Is(err, ErrNotSupported) {
		t.Errorf("ebpf.ErrNotSupported: %v", err)
	}
	other := fmt.Errorf("y: %w", unix.EINVAL)
	if err := trampolineError(other); err != other {
		t.Errorf("other errors pass unchanged, got %v", err)
	}
}

func TestProbeTestRunAndFrags(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	if err := probeTestRun(); err != nil {
		t.Error(err)
	}
	if err := probeFrags(); err != nil {
		t.Error(err)
	}
	p, err := passProgram(xdpFlagHasFrags)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if ret, out := testutil.RunXDP(t, p, make([]byte, 64)); ret != uint32(Pass) || len(out) != 64 {
		t.Errorf("pass program returned %d with %d bytes", ret, len(out))
	}
}
