package daemon_test

import (
	"fmt"
	"net/http"
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
	second := f.secondPair("x11-c", "x11-d")
	f.waitCounted(second.B.Name, time.Now())
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

// secondPair creates another veth pair between the fixture's namespaces,
// end b on the daemon's side.
func (f *fixture) secondPair(a, b string) *testutil.VethPair {
	return testutil.NewVethPair(f.t, f.send, f.recv, &testutil.VethOptions{
		NameA: a, NameB: b,
		IPv4A: netip.MustParsePrefix("10.99.111.1/24"), IPv4B: netip.MustParsePrefix("10.99.111.2/24"),
		IPv6A: netip.MustParsePrefix("2001:db8:99:111::1/64"), IPv6B: netip.MustParsePrefix("2001:db8:99:111::2/64"),
	})
}

// waitCounted waits until interface name (in the fixture's receiving
// namespace) has the chain "count", within() since it appeared.
func (f *fixture) waitCounted(name string, appeared time.Time) {
	f.t.Helper()
	opts := &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state}
	var last string
	for {
		r, err := dispatcher.Open(name, opts)
		if err == nil {
			st, serr := r.Status()
			r.Close()
			if serr == nil && len(st.Programs) == 1 && st.Programs[0].Name == "count" {
				f.t.Logf("%s has its chain %v after it appeared", name, time.Since(appeared).Round(time.Millisecond))
				return
			}
			last = "status " + errString(serr)
		} else {
			last = err.Error()
		}
		if time.Since(appeared) > within() {
			f.t.Fatalf("%s has no chain %v after it appeared: %s", name, within(), last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInterfaceAppearsLater: an interface the config names that does not
// exist when the daemon starts does not keep it from starting (the unit
// starts before the NIC's driver is ready); /readyz says it waits, and the
// interface gets its chain as soon as it appears.
func TestInterfaceAppearsLater(t *testing.T) {
	vmtest.LogWhere(t)
	f := newX11Fixture(t)
	late := f.recv.Name + "/x11-e"
	f.writeConfig(metricsConfig, fmt.Sprintf("\n[[interface]]\nname = \"x11-e\"\nnetns = %q\n", f.recv.Name)+
		"\n[[program]]\nname = \"count\"\nobject = \"counter.o\"\ninterfaces = [\"%[1]s\", \""+late+"\"]\n")
	f.start(daemon.Options{})
	if got := f.chain(); got != "count(config:count)" {
		t.Fatalf("chain %q", got)
	}
	code, body := httpGet(t, "http://"+f.d.MetricsAddr()+"/readyz")
	if want := "interface " + late + " does not exist"; code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Errorf("/readyz while x11-e is missing: %d %q, want 503 with %q", code, body, want)
	}
	f.secondPair("x11-f", "x11-e")
	f.waitCounted("x11-e", time.Now())
	for deadline := time.Now().Add(within()); ; time.Sleep(20 * time.Millisecond) {
		code, body = httpGet(t, "http://"+f.d.MetricsAddr()+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after x11-e appeared: %d %s", code, body)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
