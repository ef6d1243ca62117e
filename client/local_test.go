package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithFDCheck(m)) }

// TestLocal drives the pins' client: with no daemon on the socket Connect
// returns it; a load refused for its own reasons on a clean interface
// leaves no root; a taken name needs Replace; revisions guard every verb.
func TestLocal(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetNSPrefix(t, "x8-")
	pair := testutil.NewVethPair(t, ns, ns, &testutil.VethOptions{NameA: "x8-ca", NameB: "x8-cb"})
	c, err := client.Connect(client.Options{BPFFS: testutil.PrivateBPFFS(t), StateDir: t.TempDir(), Socket: filepath.Join(t.TempDir(), "none.sock")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Remote() {
		t.Fatal("Connect without a daemon returned a remote client")
	}
	ctx := context.Background()
	itf := chain.NewInterface("/run/netns/"+ns.Name, pair.B.Name) // the same as by name
	rev := func(n uint64) *uint64 { return &n }
	noop := func(name string) chain.LoadRequest {
		return chain.LoadRequest{Interface: itf, Name: name, Object: testprogs.Object(testprogs.Noop), ProgramName: testprogs.Program(testprogs.Noop)}
	}
	noRoot := func(after string) {
		t.Helper()
		if _, err := c.Status(ctx, &itf); !errors.Is(err, dispatcher.ErrNotAttached) {
			t.Errorf("after %s: status %v, want ErrNotAttached", after, err)
		}
	}

	stale := noop("a")
	stale.ExpectedRevision = rev(3)
	if _, err := c.Load(ctx, stale); !errors.Is(err, chain.ErrStale) {
		t.Errorf("a stale load on a clean interface: %v", err)
	}
	noRoot("a stale load")
	placed := noop("a")
	placed.Placement = chain.Placement{After: "nosuch"}
	if _, err := c.Load(ctx, placed); !errors.Is(err, dispatcher.ErrNotFound) {
		t.Errorf("a load after a missing program: %v", err)
	}
	noRoot("a misplaced load")

	first := noop("a")
	first.ExpectedRevision = rev(0)
	l, err := c.Load(ctx, first)
	if err != nil || l.Revision != 1 || !l.Changed || l.Slot != 0 || l.Programs != 1 {
		t.Fatalf("first load: %+v, %v", l, err)
	}
	if _, err := c.Load(ctx, noop("a")); !errors.Is(err, chain.ErrExists) {
		t.Errorf("loading a taken name: %v, want ErrExists", err)
	}
	again := noop("a")
	again.Replace = true
	if l, err := c.Load(ctx, again); err != nil || l.Changed || l.Revision != 1 {
		t.Errorf("replacing a program with itself: %+v, %v; want no change at revision 1", l, err)
	}
	before := noop("b")
	before.Placement = chain.Placement{Before: "a"}
	if l, err := c.Load(ctx, before); err != nil || l.Slot != 0 || l.Revision != 2 {
		t.Errorf("load before a: %+v, %v", l, err)
	}
	if _, err := c.Unload(ctx, chain.Unload{Interface: itf, All: true, ExpectedRevision: rev(1)}); !errors.Is(err, chain.ErrStale) {
		t.Errorf("a stale unload: %v", err)
	}
	if u, err := c.Unload(ctx, chain.Unload{Interface: itf, Names: []string{"b"}, ExpectedRevision: rev(2)}); err != nil || u.Revision != 3 || len(u.Removed) != 1 {
		t.Errorf("unload b: %+v, %v", u, err)
	}
	if err := c.Detach(ctx, chain.Detach{Interface: itf, ExpectedRevision: rev(2)}); !errors.Is(err, chain.ErrStale) {
		t.Errorf("a stale detach: %v", err)
	}
	st, err := c.Status(ctx, &itf)
	if err != nil || len(st.Interfaces) != 1 || st.Interfaces[0].Revision != 3 || st.Daemon != nil {
		t.Fatalf("status: %+v, %v", st, err)
	}
	if err := c.Detach(ctx, chain.Detach{Interface: itf, ExpectedRevision: rev(3)}); err != nil {
		t.Fatal(err)
	}
	noRoot("detach")
}
