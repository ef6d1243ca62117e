package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestConfigPlacement: a user's program loaded through the socket with
// before = the daemon's runs immediately before it; a [[program]] with
// before = NAME runs immediately before another program of the chain,
// whatever the priorities; a placement after a program that is not there
// refuses the config and changes nothing.
func TestConfigPlacement(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t)
	f.writeConfig("", countConfig(90)+"\n[[program]]\nname = \"first\"\nobject = \"noop.o\"\ninterfaces = [\"%[1]s\"]\npriority = 5\n")
	f.start(daemon.Options{})
	c, err := client.Dial(f.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Load(context.Background(), chain.LoadRequest{
		Interface: chain.NewInterface(f.recv.Name, f.iface()), Name: "mine", Placement: chain.Placement{Before: "count"},
		Object: testprogs.Object("noop"), ProgramName: testprogs.Program("noop"),
	}); err != nil {
		t.Fatal(err)
	}
	order := func() string {
		itf, _ := f.status()
		var s []string
		for _, p := range itf.Programs {
			s = append(s, fmt.Sprintf("%s:%d", p.Name, p.Priority))
		}
		return fmt.Sprint(s)
	}
	if got, want := order(), "[first:5 mine:89 count:90]"; got != want {
		t.Fatalf("chain %s, want %s", got, want)
	}

	f.writeConfig("", "\n[[program]]\nname = \"count\"\nobject = \"counter.o\"\ninterfaces = [\"%[1]s\"]\nbefore = \"first\"\n"+
		"\n[[program]]\nname = \"first\"\nobject = \"noop.o\"\ninterfaces = [\"%[1]s\"]\npriority = 5\n")
	if err := f.d.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := order(), "[count:5 first:5 mine:89]"; got != want {
		t.Errorf("after the reload: chain %s, want %s", got, want)
	}

	// An anchor that is not in the chain refuses the config (as a
	// placement without room would: see the chain package's tests); the
	// chain stays.
	f.writeConfig("", "\n[[program]]\nname = \"count\"\nobject = \"counter.o\"\ninterfaces = [\"%[1]s\"]\nafter = \"nosuch\"\n")
	if err := f.d.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), `placement anchor "nosuch" is not in the chain`) {
		t.Errorf("a reload placing a program after a missing one: %v", err)
	}
	if got, want := order(), "[count:5 first:5 mine:89]"; got != want {
		t.Errorf("after the refused reload: chain %s, want %s", got, want)
	}
}

// TestDetachThroughDaemon: the daemon detaches an interface root asks it
// to, but not one of its config (whose root follows the config); either
// way with the expected revision checked first.
func TestDetachThroughDaemon(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t)
	f.writeConfig("", countConfig(0))
	f.start(daemon.Options{})
	c, err := client.Dial(f.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	managed := chain.NewInterface(f.recv.Name, f.iface())
	if err := c.Detach(ctx, chain.Detach{Interface: managed}); !errors.Is(err, chain.ErrOwned) || !strings.Contains(err.Error(), "follows the daemon's config") {
		t.Errorf("detaching the config's interface: %v, want ErrOwned", err)
	}
	if got := f.chain(); got != "count(config:count)" {
		t.Errorf("after the refused detach: chain %q", got)
	}

	other := chain.NewInterface(f.send.Name, f.pair.A.Name)
	l, err := c.Load(ctx, chain.LoadRequest{Interface: other, Name: "mine", Object: testprogs.Object("noop"), ProgramName: testprogs.Program("noop")})
	if err != nil {
		t.Fatal(err)
	}
	stale := l.Revision + 1
	if err := c.Detach(ctx, chain.Detach{Interface: other, ExpectedRevision: &stale}); !errors.Is(err, chain.ErrStale) {
		t.Errorf("a stale detach: %v, want ErrStale", err)
	}
	if err := c.Detach(ctx, chain.Detach{Interface: other, ExpectedRevision: &l.Revision}); err != nil {
		t.Fatal(err)
	}
	if err := c.Detach(ctx, chain.Detach{Interface: other}); !errors.Is(err, dispatcher.ErrNotAttached) {
		t.Errorf("detaching again: %v, want ErrNotAttached", err)
	}
}
