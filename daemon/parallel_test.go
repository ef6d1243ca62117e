package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// parallelInterfaces is how many veths the parallel apply test adds: more
// than the daemon changes at once, so that some wait for a free worker.
const parallelInterfaces = 11

// TestParallelApply: the daemon changes many interfaces' chains at once.
// Every interface gets exactly its own chain (a shared program and, on
// every other one, a program of its own), and the daemon's status agrees
// with what the kernel runs (the root's pins, read without the daemon).
// A change that fails on some interfaces (an object the verifier refuses)
// is reported with the first of them in config order, and leaves every
// interface as it was: the interfaces before it were changed and undone,
// as when they were changed one after another.
func TestParallelApply(t *testing.T) {
	f := newFixture(t)
	h, err := netlink.NewHandleAt(f.recv.Handle())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var names []string
	for i := range parallelInterfaces {
		name, peer := fmt.Sprintf("spd-b%02d", i), fmt.Sprintf("spd-p%02d", i)
		if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{name, peer} {
			l, err := h.LinkByName(n)
			if err == nil {
				err = h.LinkSetUp(l)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		names = append(names, name)
	}
	// ref is how the config names interface i.
	ref := func(i int) string { return f.recv.Name + "/" + names[i] }
	// config: "count" on every interface, "own<i>" on the odd ones; with
	// bad, "extra" on every interface and "bad" on the interfaces in bad.
	config := func(bad ...int) string {
		var b strings.Builder
		for _, name := range names {
			fmt.Fprintf(&b, "\n[[interface]]\nname = %q\nnetns = %q\nmode = \"native\"\n", name, f.recv.Name)
		}
		b.WriteString("\n[[program]]\nname = \"count\"\nobject = \"counter.o\"\ninterfaces = [\"*\"]\npriority = 10\n")
		for i := 1; i < len(names); i += 2 {
			fmt.Fprintf(&b, "\n[[program]]\nname = \"own%02d\"\nobject = \"noop.o\"\ninterfaces = [%q]\npriority = 20\n", i, ref(i))
		}
		if len(bad) > 0 {
			b.WriteString("\n[[program]]\nname = \"extra\"\nobject = \"noop.o\"\ninterfaces = [\"*\"]\npriority = 30\n")
			var refs []string
			for _, i := range bad {
				refs = append(refs, fmt.Sprintf("%q", ref(i)))
			}
			fmt.Fprintf(&b, "\n[[program]]\nname = \"bad\"\nobject = \"bad.o\"\ninterfaces = [%s]\n", strings.Join(refs, ", "))
		}
		return b.String()
	}
	want := func(i int) []string {
		if i%2 == 1 {
			return []string{"count", fmt.Sprintf("own%02d", i)}
		}
		return []string{"count"}
	}
	// chains checks every interface's chain in the daemon's status and in
	// the kernel, and returns their generations.
	chains := func(when string) []uint64 {
		t.Helper()
		var gens []uint64
		for i, name := range names {
			st, err := f.d.Status(name, f.recv.Name)
			if err != nil || len(st.Interfaces) != 1 {
				t.Fatalf("%s: status of %s: %v (%d interfaces)", when, name, err, len(st.Interfaces))
			}
			r, err := dispatcher.Open(name, &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state})
			if err != nil {
				t.Fatalf("%s: opening %s's root: %v", when, name, err)
			}
			kst, err := r.Status()
			r.Close()
			if err != nil {
				t.Fatalf("%s: %s's root status: %v", when, name, err)
			}
			dst := &st.Interfaces[0]
			if got := programNames(dst); !slices.Equal(got, want(i)) {
				t.Errorf("%s: %s's chain in the daemon's status %q, want %q", when, name, got, want(i))
			}
			if got := programNames(kst); !slices.Equal(got, want(i)) {
				t.Errorf("%s: %s's chain in its pins %q, want %q", when, name, got, want(i))
			}
			if dst.Generation != kst.Generation || dst.DispatcherID != kst.DispatcherID || dst.LinkID != kst.LinkID {
				t.Errorf("%s: %s: the daemon's status says generation %d, dispatcher %d, link %d; the pins %d, %d, %d",
					when, name, dst.Generation, dst.DispatcherID, dst.LinkID, kst.Generation, kst.DispatcherID, kst.LinkID)
			}
			gens = append(gens, kst.Generation)
		}
		return gens
	}

	f.writeConfig("", config())
	f.start(daemon.Options{})
	var refs []string
	for _, itf := range f.d.Config().Interfaces {
		refs = append(refs, itf.Ref())
	}
	wantRefs := []string{f.ref()}
	for i := range names {
		wantRefs = append(wantRefs, ref(i))
	}
	if !slices.Equal(refs, wantRefs) {
		t.Fatalf("interfaces in force %q, want %q", refs, wantRefs)
	}
	before := chains("started")

	// bad on two interfaces: the error names the first in config order.
	first, second := 4, 8
	f.writeConfig("", config(second, first))
	err = f.d.Reload(context.Background())
	if !errors.Is(err, dispatcher.ErrLoad) {
		t.Fatalf("Reload with bad on %s and %s: %v, want ErrLoad", names[first], names[second], err)
	}
	if !strings.Contains(err.Error(), "interface "+ref(first)+":") {
		t.Errorf("Reload's error %q does not name %s, the first failing interface in config order", err, ref(first))
	}
	after := chains("after the failed reload")
	undone := 0
	for i := range names {
		if after[i] > before[i] {
			undone++
		}
	}
	// The interfaces before the first failure in config order were changed
	// (one more generation, undone by the next); so was the fixture's.
	for i := range first {
		if after[i] <= before[i] {
			t.Errorf("%s: generation %d -> %d: it comes before the failing interface in config order, so it was changed and undone", names[i], before[i], after[i])
		}
	}
	t.Logf("%d of %d interfaces were changed and undone", undone, len(names))
	if got := f.chain(); got != "count(config:count)" {
		t.Errorf("the fixture's interface: chain %q after the failed reload", got)
	}

	// The config goes back: nothing to change.
	f.writeConfig("", config())
	if err := f.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := chains("after reloading the first config"); !slices.Equal(again, after) {
		t.Errorf("generations %v after reloading the config in force, want %v (no swap)", again, after)
	}
}

func programNames(st *dispatcher.InterfaceStatus) []string {
	var out []string
	for _, p := range st.Programs {
		out = append(out, p.Name)
	}
	return out
}
