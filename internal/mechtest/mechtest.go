package mechtest

import (
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// Mechanisms are the slot mechanisms every mechanism-dependent test covers,
// in the order the subtests run.
var Mechanisms = []dispatcher.Mechanism{dispatcher.Inline, dispatcher.Linked, dispatcher.Freplace}

// ForEach runs fn as a subtest named after each of Mechanisms. Each
// subtest logs where it runs (vmtest.LogWhere); the freplace one first
// calls vmtest.RequireFreplace.
func ForEach(t *testing.T, fn func(t *testing.T, mech dispatcher.Mechanism)) {
	t.Helper()
	for _, mech := range Mechanisms {
		t.Run(string(mech), func(t *testing.T) {
			vmtest.LogWhere(t)
			Require(t, mech)
			fn(t, mech)
		})
	}
}

// Require skips (or, where freplace is required, fails) the test when the
// kernel cannot run slots of mechanism mech. Linked slots work on every
// kernel xdpchain supports.
func Require(tb testing.TB, mech dispatcher.Mechanism) {
	tb.Helper()
	if mech == dispatcher.Freplace {
		vmtest.RequireFreplace(tb)
	}
}
