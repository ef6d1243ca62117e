package daemon_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// newX11Fixture is newFixture with the namespaces and veth ends of issue
// 11's tests (x11-*), kept apart from other tests on the machine.
func newX11Fixture(t *testing.T) *fixture {
	t.Helper()
	testutil.RequireRoot(t)
	send, recv := testutil.NewNetNSPrefix(t, "x11-"), testutil.NewNetNSPrefix(t, "x11-")
	pair := testutil.NewVethPair(t, send, recv, &testutil.VethOptions{NameA: "x11-a", NameB: "x11-b"})
	return newFixtureOn(t, send, recv, pair)
}

// metricsConfig is the daemon table's line serving metrics on a free
// loopback port (see Daemon.MetricsAddr).
const metricsConfig = `metrics = "127.0.0.1:0"`

// httpGet returns the status code and body of GET url.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads the daemon's /metrics.
func (f *fixture) scrape() map[string]*dto.MetricFamily {
	f.t.Helper()
	code, body := httpGet(f.t, "http://"+f.d.MetricsAddr()+"/metrics")
	if code != http.StatusOK {
		f.t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		f.t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return fams
}

// sample returns the value of the series of family name whose labels
// include want, and whether there is one.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	fam := fams[name]
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.Metric {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsAndHealth: the metrics are read from the dispatcher's counters
// at scrape time and agree with the daemon's status; /healthz and /readyz
// answer.
func TestMetricsAndHealth(t *testing.T) {
	vmtest.LogWhere(t)
	f := newX11Fixture(t)
	f.writeConfig(metricsConfig, countConfig(0))
	f.start(daemon.Options{})
	if f.d.MetricsAddr() == "" {
		t.Fatal("no metrics server")
	}
	if got := f.deliver(false, 25); got != 25 {
		t.Fatalf("%d of 25 datagrams arrived", got)
	}
	itf, _ := f.status()
	fams := f.scrape()
	// Counters only grow: the scrape saw at least what status saw before it.
	pass := itf.Programs[0].Stats.Pass
	iface := map[string]string{"netns": f.recv.Name, "interface": f.iface()}
	prog := map[string]string{"netns": f.recv.Name, "interface": f.iface(), "program": "count", "owner": "config:count", "verdict": "pass"}
	if v, ok := sample(fams, "xdpchain_program_packets_total", prog); !ok || v < float64(pass) || pass < 25 {
		t.Errorf("xdpchain_program_packets_total%v = %v (present %v); status pass = %d, want ≥ 25 and the metric ≥ it", prog, v, ok, pass)
	}
	verdicts := 0
	for _, m := range fams["xdpchain_program_packets_total"].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "verdict" {
				verdicts++
			}
		}
	}
	if verdicts != 7 {
		t.Errorf("%d verdict series for one program, want 7 (aborted, drop, pass, tx, redirect, invalid, denied)", verdicts)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"xdpchain_chain_programs", iface, 1},
		{"xdpchain_chain_changes_total", iface, float64(itf.Generation)},
		{"xdpchain_fallthrough_packets_total", iface, -1},
		{"xdpchain_drift_repairs_total", iface, 0},
		{"xdpchain_apply_duration_seconds", nil, 1},
		{"xdpchain_apply_errors_total", nil, 0},
		{"xdpchain_ready", nil, 1},
		{"go_goroutines", nil, -1},
		{"process_cpu_seconds_total", nil, -1},
	} {
		v, ok := sample(fams, c.name, c.labels)
		if !ok || (c.want >= 0 && v != c.want) {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}

	if code, body := httpGet(t, "http://"+f.d.MetricsAddr()+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := httpGet(t, "http://"+f.d.MetricsAddr()+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d %s", code, body)
	}
}

// TestReadyzReportsDrift: a chain that lost the daemon's program (removed
// on the pins, bypassing the daemon, with the periodic check off) is not
// in line: /readyz says 503 and why, until a reload puts it back.
func TestReadyzReportsDrift(t *testing.T) {
	vmtest.LogWhere(t)
	f := newX11Fixture(t)
	f.writeConfig(metricsConfig, countConfig(0))
	// No healing while the test looks: no periodic check, no link events.
	f.start(daemon.Options{DriftInterval: -1, NoLinkEvents: true, RootWatchInterval: -1})
	readyz := "http://" + f.d.MetricsAddr() + "/readyz"
	// The first drift check is part of start-up: none runs behind the
	// test's back from here on.
	if v, ok := sample(f.scrape(), "xdpchain_drift_checks_total", nil); !ok || v != 1 {
		t.Fatalf("xdpchain_drift_checks_total = %v (present %v) once ready, want 1: the first drift check is not part of start-up", v, ok)
	}
	if code, body := httpGet(t, readyz); code != http.StatusOK {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	// Through the pins with the library: the CLI, with or without the
	// daemon, refuses to remove a program the daemon's config owns.
	r, err := f.openRoot()
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Update(func(s *dispatcher.Spec) error { s.Programs = dispatcher.Chain{}; return nil })
	r.Close()
	if err != nil {
		t.Fatalf("removing the program on the pins: %v", err)
	}
	code, body := httpGet(t, readyz)
	if want := "program count (config:count) is missing from the chain"; code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Errorf("/readyz after the program was removed: %d %q, want 503 with %q", code, body, want)
	}
	if v, ok := sample(f.scrape(), "xdpchain_ready", nil); !ok || v != 0 {
		t.Errorf("xdpchain_ready = %v (present %v), want 0", v, ok)
	}
	if code, body := httpGet(t, "http://"+f.d.MetricsAddr()+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s (the daemon runs)", code, body)
	}
	if err := f.d.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, readyz); code != http.StatusOK {
		t.Errorf("/readyz after the reload: %d %s", code, body)
	}
}

// TestMetricsAddressInUse: a metrics address that cannot be bound stops
// the daemon before it touches any chain.
func TestMetricsAddressInUse(t *testing.T) {
	vmtest.LogWhere(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := newX11Fixture(t)
	f.writeConfig(fmt.Sprintf("metrics = %q", ln.Addr().String()), countConfig(0))
	err = f.startErr(daemon.Options{})
	if err == nil || !strings.Contains(err.Error(), "[daemon] metrics") {
		t.Fatalf("start with the metrics address in use: %v, want a [daemon] metrics error", err)
	}
	if _, err := f.rootStatus(); err == nil {
		t.Error("the interface has a root: the daemon touched it before failing")
	}
}
