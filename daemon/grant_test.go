package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

func TestAuthorizeLoad(t *testing.T) {
	pd := dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop)
	grants := []config.Grant{
		{UID: 1000, GID: -1, Interfaces: []string{"eth0"}, PriorityMin: 100, PriorityMax: 200, Verdicts: pd, Line: 10},
		{UID: -1, GID: 50, Interfaces: []string{"eth1"}, PriorityMin: 0, PriorityMax: 1000, Verdicts: dispatcher.AllVerdicts, Line: 20},
		{UID: 2000, GID: 60, Interfaces: []string{"eth2"}, PriorityMin: 0, PriorityMax: 1000, Verdicts: dispatcher.AllVerdicts, Line: 30},
	}
	prog := func(prio int, allowed dispatcher.VerdictSet) dispatcher.Program {
		return dispatcher.Program{Name: "p", Priority: prio, Allowed: allowed}
	}
	for _, tc := range []struct {
		name    string
		peer    Peer
		iface   string
		prog    dispatcher.Program
		allowed dispatcher.VerdictSet // as loaded, when permitted
		err     string                // part of the error, when refused
	}{
		{"root anywhere", Peer{UID: 0}, "eth9", prog(5, 0), 0, ""},
		{"granted user", Peer{UID: 1000, GID: 1000}, "eth0", prog(150, 0), pd, ""},
		{"granted user, narrower verdicts", Peer{UID: 1000}, "eth0", prog(100, dispatcher.NewVerdictSet(dispatcher.Drop)), dispatcher.NewVerdictSet(dispatcher.Drop), ""},
		{"granted user, range ends", Peer{UID: 1000}, "eth0", prog(200, 0), pd, ""},
		{"other interface", Peer{UID: 1000}, "eth1", prog(150, 0), 0, "no grant on interface \"eth1\""},
		{"priority below", Peer{UID: 1000}, "eth0", prog(99, 0), 0, "priority 99 is outside the granted range [100, 200] (line 10)"},
		{"priority above", Peer{UID: 1000}, "eth0", prog(201, 0), 0, "outside the granted range"},
		{"verdicts not granted", Peer{UID: 1000}, "eth0", prog(150, dispatcher.NewVerdictSet(dispatcher.TX, dispatcher.Pass)), 0, "verdicts tx are not granted"},
		{"no grant at all", Peer{UID: 3000, GID: 3000}, "eth0", prog(150, 0), 0, "uid 3000 has no [[grant]]"},
		{"group grant, primary group", Peer{UID: 3000, GID: 50}, "eth1", prog(1, 0), 0, ""},
		{"group grant, supplementary group", Peer{UID: 3000, GID: 3000, Groups: []uint32{7, 50}}, "eth1", prog(1, 0), 0, ""},
		{"user and group: both needed", Peer{UID: 2000, GID: 2000}, "eth2", prog(1, 0), 0, "has no [[grant]]"},
		{"user and group: both present", Peer{UID: 2000, GID: 2000, Groups: []uint32{60}}, "eth2", prog(1, 0), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := authorizeLoad(grants, tc.peer, tc.iface, tc.prog)
			if tc.err != "" {
				if !errors.Is(err, chain.ErrPermission) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("authorizeLoad: %v, want chain.ErrPermission with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("authorizeLoad: %v", err)
			}
			if got.Allowed != tc.allowed {
				t.Errorf("allowed %s, want %s", got.Allowed, tc.allowed)
			}
		})
	}
}
