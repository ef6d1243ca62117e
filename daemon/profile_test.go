package daemon_test

import (
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestSampledProfileMetrics: with [daemon] profile_sample the daemon keeps
// a sampled profile on its interface: under traffic /metrics has
// xdpchain_program_run_seconds_total and the histogram
// xdpchain_program_run_seconds for the program, both > 0, and the root
// runs a generation with the probes. Without the setting there are no such
// series and the root's instructions are the plain generation's; a root
// detached from outside and repaired is profiled again; a daemon that stops
// ends its profile (the plain generation runs again).
func TestSampledProfileMetrics(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	send, recv := testutil.NewNetNSPrefix(t, "obs-"), testutil.NewNetNSPrefix(t, "obs-")
	f := newFixtureOn(t, send, recv, testutil.NewVethPair(t, send, recv, nil))
	rootInstructions := func() string {
		return testutil.Instructions(t, func() uint32 {
			itf, _ := f.status()
			return itf.DispatcherID
		})
	}
	prog := map[string]string{"netns": f.recv.Name, "interface": f.iface(), "program": "count"}

	// Without the setting: the plain generation, no profile series.
	f.writeConfig(metricsConfig, countConfig(0))
	f.start(daemon.Options{})
	if got := f.deliver(false, 20); got != 20 {
		t.Fatalf("%d of 20 datagrams arrived", got)
	}
	plain := rootInstructions()
	fams := f.scrape()
	for _, name := range []string{"xdpchain_program_run_seconds_total", "xdpchain_program_run_seconds"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s without profile_sample", name)
		}
	}
	f.stop()
	if got := pinnedInstructions(t, f); got != plain {
		t.Errorf("a daemon without profile_sample that stopped changed the root")
	}

	// With it: the probes run and the series count the program's time.
	f.writeConfig(metricsConfig+"\nprofile_sample = 2", countConfig(0))
	f.start(daemon.Options{})
	if rootInstructions() == plain {
		t.Errorf("with profile_sample the root runs the plain generation")
	}
	if got := f.deliver(false, 100); got != 100 {
		t.Fatalf("%d of 100 datagrams arrived", got)
	}
	fams = f.scrape()
	secs, ok := sample(fams, "xdpchain_program_run_seconds_total", prog)
	if !ok || secs <= 0 {
		t.Errorf("xdpchain_program_run_seconds_total%v = %v (present %v), want > 0", prog, secs, ok)
	}
	if fam := fams["xdpchain_program_run_seconds"]; fam == nil || len(fam.Metric) != 1 || fam.Metric[0].Histogram == nil {
		t.Errorf("xdpchain_program_run_seconds: %v, want one histogram", fam)
	} else {
		h := fam.Metric[0].Histogram
		if h.GetSampleCount() == 0 || h.GetSampleSum() != secs || len(h.Bucket) == 0 {
			t.Errorf("xdpchain_program_run_seconds: count %d, sum %v (run_seconds_total %v), %d buckets; want count > 0, the same sum, buckets",
				h.GetSampleCount(), h.GetSampleSum(), secs, len(h.Bucket))
		}
		if last := h.Bucket[len(h.Bucket)-1]; last.GetCumulativeCount() != h.GetSampleCount() {
			t.Errorf("the last bucket counts %d of %d packets", last.GetCumulativeCount(), h.GetSampleCount())
		}
		t.Logf("count %d, sum %gs, mean %.0f ns", h.GetSampleCount(), h.GetSampleSum(), 1e9*h.GetSampleSum()/float64(h.GetSampleCount()))
	}
	f.stop()
	if got := pinnedInstructions(t, f); got != plain {
		t.Errorf("after the daemon with profile_sample stopped, the root is not the plain generation")
	}

	// A root detached from outside loses every lease; the repair starts
	// a new profile on the new root (new maps: the series count again
	// only if the new root's generation carries the probes).
	f.start(daemon.Options{DriftInterval: 100 * time.Millisecond})
	before, _ := f.status()
	f.detachRoot()
	f.waitHealed(before.Ifindex, before.LinkID, "count", 20*time.Second)
	// The profile starts just after the repair the status shows: traffic
	// until the new probes have timed some.
	for deadline := time.Now().Add(30 * time.Second); ; {
		f.deliver(false, 20)
		secs, ok := sample(f.scrape(), "xdpchain_program_run_seconds_total", prog)
		if ok && secs > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the repair xdpchain_program_run_seconds_total%v = %v (present %v), want > 0", prog, secs, ok)
		}
	}
}

// pinnedInstructions reads the root's instructions on the pins (no daemon
// runs).
func pinnedInstructions(t *testing.T, f *fixture) string {
	t.Helper()
	return testutil.Instructions(t, func() uint32 {
		st, err := f.rootStatus()
		if err != nil {
			t.Fatal(err)
		}
		return st.DispatcherID
	})
}
