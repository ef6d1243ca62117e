package dispatcher

import (
	"errors"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func TestNewMechanism(t *testing.T) {
	for _, k := range []Mechanism{Inline, Linked, Freplace} {
		m, err := newMechanism(k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if m.kind() != k {
			t.Errorf("newMechanism(%s).kind() = %s", k, m.kind())
		}
	}
	// auto must be resolved first; anything else is no mechanism.
	for _, k := range []Mechanism{AutoMechanism, "tail-call"} {
		if m, err := newMechanism(k); !errors.Is(err, ErrInvalid) || m != nil {
			t.Errorf("newMechanism(%q) = %v, %v; want ErrInvalid", k, m, err)
		}
	}
}

func TestResolveMechanism(t *testing.T) {
	vmtest.LogWhere(t)
	for _, running := range []Mechanism{AutoMechanism, Inline, Linked, Freplace} {
		for _, k := range []Mechanism{Inline, Linked, Freplace} {
			if got, reason := ResolveMechanism(k, running); got != k || reason != "requested" {
				t.Errorf("ResolveMechanism(%s, %s) = %s, %q", k, running, got, reason)
			}
		}
	}
	// Auto keeps what a root runs...
	for _, running := range []Mechanism{Inline, Linked, Freplace} {
		if got, reason := ResolveMechanism(AutoMechanism, running); got != running || reason != "" {
			t.Errorf("auto on a %s root = %s, %q; want it kept", running, got, reason)
		}
	}
	testutil.RequireRoot(t)
	// ... and gives a new root inline: it needs nothing but XDP, and is
	// the fastest everywhere.
	kind, reason := ResolveMechanism(AutoMechanism, AutoMechanism)
	t.Logf("auto: %s (%s)", kind, reason)
	if kind != Inline || !strings.Contains(reason, "fastest") {
		t.Errorf("auto chose %s (%q), want inline", kind, reason)
	}
}
