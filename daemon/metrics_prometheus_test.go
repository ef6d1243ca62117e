package daemon_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/api"
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
	log *testutil.Buffer
}

// startPrometheus starts Prometheus scraping target (host:port) every
// second and waits until it is ready.
func startPrometheus(t *testing.T, bin, target string) *prometheusServer {
	return startPrometheusRules(t, bin, target, "")
}

// startPrometheusRules is startPrometheus evaluating the rule file rules
// (YAML, as in a rule_files entry; "" for none) every second.
func startPrometheusRules(t *testing.T, bin, target, rules string) *prometheusServer {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	ruleFiles := ""
	if rules != "" {
		path := filepath.Join(dir, "rules.yml")
		if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
			t.Fatal(err)
		}
		ruleFiles = fmt.Sprintf("rule_files: [%q]\n", path)
	}
	if err := os.WriteFile(cfg, []byte(ruleFiles+fmt.Sprintf(`global:
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
	p := &prometheusServer{url: "http://" + addr, log: &testutil.Buffer{}}
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
	vs := p.queryAll(t, q)
	switch len(vs) {
	case 0:
		return 0, false
	case 1:
		return vs[0], true
	}
	t.Fatalf("query %s: %d series, want one: %v", q, len(vs), vs)
	return 0, false
}

// queryAll evaluates an instant PromQL query and returns the values of
// its series; a query Prometheus refuses fails the test.
func (p *prometheusServer) queryAll(t *testing.T, q string) []float64 {
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
	var vs []float64
	for _, res := range r.Data.Result {
		s, _ := res.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("query %s: value %v: %v", q, res.Value, err)
		}
		vs = append(vs, v)
	}
	return vs
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

// operationsDoc returns what docs/operations.md documents for Prometheus:
// the alert rules (the YAML block under "Alerts worth having") and every
// PromQL query of the Grafana table and of the promql blocks.
func operationsDoc(t *testing.T) (rules string, queries []string) {
	t.Helper()
	b, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	section, fence := "", ""
	var block []string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case fence == "" && strings.HasPrefix(line, "```"):
			fence, block = strings.TrimPrefix(line, "```"), nil
		case fence != "" && line == "```":
			switch {
			case fence == "yaml" && section == "### Alerts worth having":
				rules = strings.Join(block, "\n") + "\n"
			case fence == "promql":
				queries = append(queries, strings.Join(block, "\n"))
			}
			fence = ""
		case fence != "":
			block = append(block, line)
		case strings.HasPrefix(line, "#"):
			section = line
		case section == "### Queries for Grafana" && strings.HasPrefix(line, "| ") && strings.Count(line, "`") >= 2:
			cells := strings.Split(strings.ReplaceAll(line, `\|`, "\x00"), "|")
			if len(cells) < 3 {
				continue
			}
			q := strings.TrimSpace(cells[2])
			q = strings.TrimSuffix(strings.TrimPrefix(q, "`"), "` (table)")
			q = strings.TrimSuffix(q, "`")
			queries = append(queries, strings.ReplaceAll(q, "\x00", "|"))
		}
	}
	if rules == "" || len(queries) < 5 {
		t.Fatalf("docs/operations.md: alert rules %q and %d queries found; the test reads the wrong sections", rules, len(queries))
	}
	return rules, queries
}

// TestPrometheusDocumentedQueries runs the alert rules and queries of
// docs/operations.md in a real Prometheus scraping a daemon with a plugin:
// every query evaluates, per-interface series join on (netns, interface)
// (the plugin's with its chain's), the sampled profile's ns per packet
// (profile_sample) has a value under traffic, and a reload refused because
// the file does not parse fires XdpchainReloadRefused.
func TestPrometheusDocumentedQueries(t *testing.T) {
	vmtest.LogWhere(t)
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skipf("skipped on %s: no prometheus binary (Debian's prometheus package, which .ci/run installs); this test runs on the host, not in the Debian VMs", vmtest.Where())
	}
	rules, queries := operationsDoc(t)
	f := newFixture(t)
	path := f.writeConfig(metricsConfig+"\nprofile_sample = 1", countConfig(0)+guardConfig(10, `"%[3]s"`))
	f.start(daemon.Options{})
	f.waitPlugin("guard", func(p api.PluginStatus) bool { return p.State == api.StateRunning })
	prom := startPrometheusRules(t, bin, f.d.MetricsAddr(), rules)

	// The join the docs show: each plugin instance with its chain.
	join := `xdpchain_plugin_up * on (instance, netns, interface) group_left xdpchain_chain_programs`
	if !slices.Contains(queries, join) {
		t.Errorf("docs/operations.md does not show the join %s", join)
	}
	waitQuery(t, prom, join, func(vs []float64) bool { return len(vs) == 1 && vs[0] == 2 }, "one series, plugin up (1) times 2 programs")
	waitQuery(t, prom, `xdpchain_apply_errors_total`, func(vs []float64) bool { return len(vs) == 1 && vs[0] == 0 }, "0")
	grafana := strings.NewReplacer(`"$instance"`, `".*"`, `"$interface"`, `".*"`, "$__rate_interval", "1m")
	for _, q := range queries {
		q = grafana.Replace(q)
		t.Logf("%s: %v", q, prom.queryAll(t, q)) // refused queries fail the test
	}
	// The documented ns per packet of the sampled profile, under traffic.
	nsQuery := ""
	for _, q := range queries {
		if strings.Contains(q, "rate(xdpchain_program_run_seconds_total") {
			nsQuery = grafana.Replace(q)
		}
	}
	if nsQuery == "" {
		t.Fatal("docs/operations.md has no query of xdpchain_program_run_seconds_total")
	}
	for deadline := time.Now().Add(90 * time.Second); ; {
		f.deliver(false, 20)
		vs := prom.queryAll(t, nsQuery)
		if len(vs) == 2 && vs[0] > 0 && vs[1] > 0 { // count and guard
			t.Logf("%s = %v", nsQuery, vs)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PromQL %s = %v, want two programs' ns per packet > 0 within 90s", nsQuery, vs)
		}
	}

	// A typo: the file does not parse. The reload is refused, counted, and
	// the documented alert fires.
	if err := os.WriteFile(path, []byte("[daemon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.d.Reload(t.Context()); !errors.Is(err, api.ErrReload) {
		t.Fatalf("Reload of a file that does not parse: %v, want ErrReload", err)
	}
	waitQuery(t, prom, `xdpchain_apply_errors_total`, func(vs []float64) bool { return len(vs) == 1 && vs[0] == 1 }, "1")
	waitQuery(t, prom, `ALERTS{alertname="XdpchainReloadRefused", alertstate="firing"}`, func(vs []float64) bool { return len(vs) == 1 }, "the alert firing")
}

// waitQuery polls a PromQL query until ok accepts its values (Prometheus
// lags by a scrape and an evaluation).
func waitQuery(t *testing.T, prom *prometheusServer, q string, ok func([]float64) bool, want string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		vs := prom.queryAll(t, q)
		if ok(vs) {
			t.Logf("%s = %v", q, vs)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PromQL %s = %v, want %s within 90s", q, vs, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
