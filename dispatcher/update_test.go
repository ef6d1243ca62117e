package dispatcher_test

import (
	"errors"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestUpdateReportsChange checks that Update says whether the chain changed:
// an edit that would rebuild the running generation swaps nothing and
// reports false, with no error; Spec.Revision is the generation an edit
// starts from, so a compare-and-swap can refuse a chain that moved on.
func TestUpdateReportsChange(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Linked)
	r := f.attach(t)
	counter := program(t, testprogs.Counter, "counter")
	var seen []uint64
	edit := func(fn func(*dispatcher.Spec)) bool {
		t.Helper()
		changed, err := r.Update(func(s *dispatcher.Spec) error {
			seen = append(seen, s.Revision)
			fn(s)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	if !edit(func(s *dispatcher.Spec) { s.Programs = append(s.Programs, counter) }) {
		t.Error("adding a program reports no change")
	}
	before := status(t, r)
	if edit(func(*dispatcher.Spec) {}) {
		t.Error("an edit that changes nothing reports a change")
	}
	if edit(func(s *dispatcher.Spec) { s.Programs = dispatcher.Chain{counter} }) {
		t.Error("writing the same chain again reports a change")
	}
	if after := status(t, r); after.DispatcherID != before.DispatcherID || after.Generation != before.Generation {
		t.Errorf("an unchanged chain was swapped: dispatcher %d generation %d, was %d %d", after.DispatcherID, after.Generation, before.DispatcherID, before.Generation)
	}
	if !edit(func(s *dispatcher.Spec) { s.Programs[0].Priority = 7 }) {
		t.Error("a new priority reports no change")
	}
	if want := []uint64{0, 1, 1, 1}; len(seen) != 4 || seen[0] != want[0] || seen[1] != want[1] || seen[3] != want[3] {
		t.Errorf("revisions seen by the edits: %v, want %v", seen, want)
	}
	if st := status(t, r); st.Revision != 2 || st.Generation != 2 {
		t.Errorf("status: revision %d, generation %d; want 2", st.Revision, st.Generation)
	}

	stale := errors.New("stale")
	changed, err := r.Update(func(s *dispatcher.Spec) error {
		if s.Revision != 1 {
			return stale
		}
		s.Programs = nil
		return nil
	})
	if changed || !errors.Is(err, stale) || len(status(t, r).Programs) != 1 {
		t.Errorf("a refused compare-and-swap: changed %v, %v", changed, err)
	}
}
