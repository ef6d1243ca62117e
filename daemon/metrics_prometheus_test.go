package daemon_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// prometheusServer is a Prometheus process of a test's own: its config
// and data in a temporary directory, its HTTP API on a free loopback port.
type prometheusServer struct {
	url string
	cmd *exec.Cmd
	log *syncBuffer
}

// startPrometheus starts Prometheus scraping target (host:port) every
// second and waits until it is ready.
func startPrometheus(t *testing.T, bin, target string) *prometheusServer {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: xdpchain
    static_configs:
      - targets: [%q]
`, target)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The port is free when asked for; should another process take it
	// before Prometheus binds it, Prometheus exits and another is tried.
	for attempt := 0; ; attempt++ {
		p, err := tryPrometheus(t, bin, cfg, filepath.Join(dir, fmt.Sprintf("data%d", attempt)))
		if err == nil {
			return p
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("%v; trying another port", err)
	}
}

// tryPrometheus starts Prometheus on a free port and waits until it is
// ready; an error means it exited.
func tryPrometheus(t *testing.T, bin, cfg, data string) (*prometheusServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &prometheusServer{url: "http://" + addr, log: &syncBuffer{}}
	p.cmd = exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+data, "--web.listen-address="+addr, "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			return nil, fmt.Errorf("prometheus on %s exited: %v\n%s", addr, err, p.log.String())
		default:
		}
		if resp, err := http.Get(p.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 60s:\n%s", p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// query evaluates an instant PromQL query and returns the value of its
// only series; ok is false while there is none (not scraped yet).
func (p *prometheusServer) query(t *testing.T, q string) (v float64, ok bool) {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s %s", q, r.Status, r.Error)
	}
	switch len(r.Data.Result) {
	case 0:
		return 0, false
	case 1:
	default:
		t.Fatalf("query %s: %d series, want one: %+v", q, len(r.Data.Result), r.Data.Result)
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %v: %v", q, r.Data.Result[0].Value, err)
	}
	return v, true
}

// TestPrometheusAgreesWithStatus: a real Prometheus scraping the daemon
// on loopback reports, for a chain that carried traffic, the count that
// `xdpchain status --json` prints.
func TestPrometheusAgreesWithStatus(t *testing.T) {
	vmtest.LogWhere(t)
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skipf("skipped on %s: no prometheus binary (Debian's prometheus package, which .ci/run installs); this test runs on the host, not in the Debian VMs", vmtest.Where())
	}
	f := newX11Fixture(t)
	f.writeConfig(metricsConfig, countConfig(0))
	f.start(daemon.Options{})
	cli := testutil.XDPChainBinary(t)
	prom := startPrometheus(t, bin, f.d.MetricsAddr())

	const n = 40
	if got := f.deliver(false, n); got != n {
		t.Fatalf("%d of %d datagrams arrived", got, n)
	}
	q := fmt.Sprintf(`xdpchain_program_packets_total{job="xdpchain",netns=%q,interface=%q,program="count",owner="config:count",verdict="pass"}`, f.recv.Name, f.iface())
	// Prometheus lags by up to a scrape interval: poll until its latest
	// sample matches what status says (the chain sees no more traffic).
	deadline := time.Now().Add(90 * time.Second)
	for {
		stdout, stderr, err := testutil.RunXDPChain(t, cli, "--socket", f.socket(), "status", "--json", "--netns", f.recv.Name, f.iface())
		if err != nil {
			t.Fatalf("xdpchain status --json: %v\n%s", err, stderr)
		}
		var doc struct {
			Interfaces []dispatcher.InterfaceStatus `json:"interfaces"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("status --json: %v\n%s", err, stdout)
		}
		if len(doc.Interfaces) != 1 || len(doc.Interfaces[0].Programs) != 1 {
			t.Fatalf("status --json: want one interface with one program:\n%s", stdout)
		}
		want := doc.Interfaces[0].Programs[0].Stats.Pass
		got, ok := prom.query(t, q)
		if ok && got == float64(want) && want >= n {
			t.Logf("PromQL %s = %v, status --json pass = %d", q, got, want)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PromQL %s = %v (series present %v), status --json pass = %d (want ≥ %d), not equal within 90s", q, got, ok, want, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The other series are there too, and readiness.
	for _, q := range []string{
		fmt.Sprintf(`xdpchain_chain_programs{interface=%q}`, f.iface()),
		`xdpchain_ready`,
	} {
		if v, ok := prom.query(t, q); !ok || v != 1 {
			t.Errorf("PromQL %s = %v (present %v), want 1", q, v, ok)
		}
	}
}
