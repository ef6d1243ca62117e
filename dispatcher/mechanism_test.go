package dispatcher

import (
	"errors"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func TestNewMechanism(t *testing.T) {
	for _, k := range []MechanismKind{Inline, Linked, Freplace} {
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
	// Inline needs nothing but XDP, and is the fastest everywhere.
	if kind != Inline || !strings.Contains(reason, "fastest") {
		t.Errorf("auto chose %s (%q), want inline", kind, reason)
	}
	if k, _ := ResolveMechanism(Freplace); k != Freplace {
		t.Errorf("freplace by name resolved to %s", k)
	}
}
