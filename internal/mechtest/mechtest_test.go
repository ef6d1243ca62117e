package mechtest

import (
	"slices"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func TestMechanisms(t *testing.T) {
	want := []dispatcher.Mechanism{dispatcher.Inline, dispatcher.Linked, dispatcher.Freplace}
	if !slices.Equal(Mechanisms, want) {
		t.Errorf("Mechanisms = %v, want %v", Mechanisms, want)
	}
}

// TestForEach checks that ForEach runs one subtest per mechanism, named
// after it, and reaches fn for freplace exactly when the kernel can load
// freplace programs.
func TestForEach(t *testing.T) {
	freplaceErr := vmtest.ProbeFreplace()
	if freplaceErr != nil && vmtest.FreplaceRequired() {
		t.Skipf("freplace is required but unavailable (%v): the freplace subtest would fail by design", freplaceErr)
	}
	var names []string
	var ran []dispatcher.Mechanism
	ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		names = append(names, t.Name())
		ran = append(ran, mech)
	})
	want := []dispatcher.Mechanism{dispatcher.Inline, dispatcher.Linked}
	wantNames := []string{t.Name() + "/inline", t.Name() + "/linked"}
	if freplaceErr == nil {
		want = append(want, dispatcher.Freplace)
		wantNames = append(wantNames, t.Name()+"/freplace")
	}
	if !slices.Equal(ran, want) || !slices.Equal(names, wantNames) {
		t.Errorf("fn ran for %v as %v, want %v as %v (freplace probe: %v)", ran, names, want, wantNames, freplaceErr)
	}
}

func TestRequire(t *testing.T) {
	ok := t.Run("linked", func(t *testing.T) {
		Require(t, dispatcher.Linked)
	})
	if !ok {
		t.Error("Require(linked) failed")
	}
	var skipped bool
	t.Run("freplace", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Require(t, dispatcher.Freplace)
	})
	if want := vmtest.ProbeFreplace() != nil; skipped != want && !vmtest.FreplaceRequired() {
		t.Errorf("Require(freplace) skipped = %v, want %v", skipped, want)
	}
}
