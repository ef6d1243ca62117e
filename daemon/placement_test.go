package daemon_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/daemon"
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
	c, err := daemon.Dial(f.socket())
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
