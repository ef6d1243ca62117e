package dispatcher

import (
	"errors"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func TestNewMechanism(t *testing.T) {
	for _, k := range []MechanismKind{Linked, Freplace} {
		m, err := newMechanism(k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if m.kind() != k {
			t.Errorf("newMechanism(%s).kind() = %s", k, m.kind())
		}
	}
	// auto must be resolved first; anything else is no mechanism.
	for _, k := range []MechanismKind{AutoMechanism, "", "tail-call"} {
		if m, err := newMechanism(k); !errors.Is(err, ErrInvalid) || m != nil {
			t.Errorf("newMechanism(%q) = %v, %v; want ErrInvalid", k, m, err)
		}
	}
}

func TestResolveMechanism(t *testing.T) {
	vmtest.LogWhere(t)
	for _, k := range []MechanismKind{Linked, Freplace} {
		if got, reason := ResolveMechanism(k); got != k || reason != "requested" {
			t.Errorf("ResolveMechanism(%s) = %s, %q", k, got, reason)
		}
	}
	testutil.RequireRoot(t)
	kind, reason := ResolveMechanism(AutoMechanism)
	t.Logf("auto: %s (%s)", kind, reason)
	if k2, r2 := ResolveMechanism(""); k2 != kind || r2 != reason {
		t.Errorf("empty kind resolved to %s (%q), auto to %s (%q)", k2, r2, kind, reason)
	}
	probeErr := probeFreplace()
	switch {
	case probeErr == nil:
		if kind != Freplace || reason != "kernel supports freplace" {
			t.Errorf("freplace works here, auto chose %s (%q)", kind, reason)
		}
	default:
		if kind != Linked || reason != "freplace unavailable: "+probeErr.Error() {
			t.Errorf("freplace fails here (%v), auto chose %s (%q)", probeErr, kind, reason)
		}
		if !errors.Is(probeErr, ErrNotSupported) {
			t.Errorf("the freplace probe failed with %v, want it to wrap ErrNotSupported", probeErr)
		}
	}
	if vmtest.InVM() && vmtest.FreplaceRequired() && kind != Freplace {
		t.Errorf("in the VM auto must choose freplace, chose %s (%q)", kind, reason)
	}
	if !vmtest.InVM() && kind == Linked && !strings.Contains(reason, "EPERM") {
		t.Errorf("on the host, linked is chosen because of EPERM; reason %q", reason)
	}
}
