package daemon_test

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestInterfacePattern: an [[interface]] named by a glob gives its chain
// to every matching interface of its namespace at start, to one that
// appears later (from its link event), and forgets one that goes.
func TestInterfacePattern(t *testing.T) {
	vmtest.LogWhere(t)
	f := newX11Fixture(t)
	pattern := f.recv.Name + "/x11-[bd]"
	path := f.writeConfig("", "\n[[program]]\nname = \"count\"\nobject = \"counter.o\"\ninterfaces = [\""+pattern+"\"]\n")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(src), `name = "x11-b"`, `name = "x11-[bd]"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	f.start(daemon.Options{})
	refs := func() []string {
		var out []string
		for _, itf := range f.d.Config().Interfaces {
			out = append(out, itf.Ref())
		}
		return out
	}
	if got, want := refs(), []string{f.ref()}; !slices.Equal(got, want) {
		t.Fatalf("interfaces in force %q, want %q (the pattern's one match)", got, want)
	}
	if got := f.chain(); got != "count(config:count)" {
		t.Fatalf("chain %q", got)
	}
	// x11-c (send side) and x11-d (the daemon's side, matching) appear.
	second := testutil.NewVethPair(t, f.send, f.recv, &testutil.VethOptions{
		NameA: "x11-c", NameB: "x11-d",
		IPv4A: netip.MustParsePrefix("10.99.111.1/24"), IPv4B: netip.MustParsePrefix("10.99.111.2/24"),
		IPv6A: netip.MustParsePrefix("2001:db8:99:111::1/64"), IPv6B: netip.MustParsePrefix("2001:db8:99:111::2/64"),
	})
	appeared := time.Now()
	opts := &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state}
	var last string
	for {
		r, err := dispatcher.Open(second.B.Name, opts)
		if err == nil {
			st, serr := r.Status()
			r.Close()
			if serr == nil && len(st.Programs) == 1 && st.Programs[0].Name == "count" {
				t.Logf("x11-d has its chain %v after it appeared", time.Since(appeared).Round(time.Millisecond))
				break
			}
			last = "status " + errString(serr)
		} else {
			last = err.Error()
		}
		if time.Since(appeared) > within() {
			t.Fatalf("x11-d has no chain %v after it appeared: %s", within(), last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := refs(), []string{f.ref(), f.recv.Name + "/x11-d"}; !slices.Equal(got, want) {
		t.Errorf("interfaces in force %q, want %q", got, want)
	}
	// x11-b keeps its chain, without a swap.
	if got := f.chain(); got != "count(config:count)" {
		t.Errorf("x11-b's chain %q", got)
	}

	// x11-d goes: the daemon forgets it.
	h, err := netlink.NewHandleAt(f.send.Handle())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName(second.A.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkDel(link); err != nil {
		t.Fatal(err)
	}
	gone := time.Now()
	for !slices.Equal(refs(), []string{f.ref()}) {
		if time.Since(gone) > within() {
			t.Fatalf("interfaces in force %q %v after x11-d went, want only %s", refs(), within(), f.ref())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := f.d.Readiness(); err != nil {
		t.Errorf("after x11-d went: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
