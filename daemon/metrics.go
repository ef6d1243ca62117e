package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// metrics are the daemon's Prometheus metrics, in a registry of its own (a
// process may run several daemons, as the tests do). The chains' packet
// counts are read from the dispatcher's counters at scrape time (see
// chainCollector); the rest count what the daemon did since it started.
type metrics struct {
	reg           *prometheus.Registry
	applyDuration prometheus.Histogram
	applyErrors   prometheus.Counter
	restarts      *prometheus.CounterVec
	repairs       *prometheus.CounterVec
	driftChecks   prometheus.Counter
	unprotected   prometheus.Histogram
}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xdpchain_apply_duration_seconds",
			Help:    "Time taken to apply the config (at start and on every reload), successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms .. 41s
		}),
		applyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xdpchain_apply_errors_total",
			Help: "Config applies and reloads refused, whatever the reason (the file does not parse or validate, or the apply failed); each changed nothing and the previous config stays in force.",
		}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xdpchain_plugin_restarts_total",
			Help: "Restart attempts of plugin processes (on_exit = \"restart\"), on all interfaces.",
		}, []string{"plugin"}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xdpchain_drift_repairs_total",
			Help: "Chains re-applied by the daemon after drift (root detached from outside, interface created again, daemon programs removed).",
		}, []string{"netns", "interface"}),
		driftChecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xdpchain_drift_checks_total",
			Help: "Drift checks run (the first at start-up, before the daemon is ready; then on link events, root-link events and periodically).",
		}),
		unprotected: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xdpchain_drift_unprotected_seconds",
			Help:    "For each root detached from outside and re-attached: the longest its interface may have run without the chain (from the last check that saw the root attached to the end of the repair).",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 10), // 50ms .. 25s
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.applyDuration, m.applyErrors, m.restarts, m.repairs, m.driftChecks, m.unprotected,
		&chainCollector{d: d},
	)
	return m
}

// observeApply records one apply that started at start; use as
// defer d.metrics.observeApply(time.Now(), &err).
func (m *metrics) observeApply(start time.Time, err *error) {
	m.applyDuration.Observe(time.Since(start).Seconds())
	if *err != nil {
		m.applyErrors.Inc()
	}
}

// configApplied creates the series of a config's plugins and interfaces at
// zero, so that increase() sees their first event.
func (m *metrics) configApplied(cfg *config.Config) {
	for i := range cfg.Plugins {
		m.restarts.WithLabelValues(cfg.Plugins[i].Name)
	}
	for i := range cfg.Interfaces {
		m.repairs.WithLabelValues(cfg.Interfaces[i].NetNS, cfg.Interfaces[i].Name)
	}
}

func (m *metrics) pluginRestart(plugin string) { m.restarts.WithLabelValues(plugin).Inc() }

func (m *metrics) driftRepaired(itf *config.Interface) {
	m.repairs.WithLabelValues(itf.NetNS, itf.Name).Inc()
}

var (
	descPackets = prometheus.NewDesc("xdpchain_program_packets_total",
		"Packets a program of a chain saw, by the verdict it returned (invalid: a value outside the XDP verdicts; denied: a verdict it may not return; both became aborted). Counted by the dispatcher; they follow the program across generations.",
		[]string{"netns", "interface", "program", "owner", "verdict"}, nil)
	descFallthrough = prometheus.NewDesc("xdpchain_fallthrough_packets_total",
		"Packets that every program of the chain continued on, which got the fall-through verdict.",
		[]string{"netns", "interface"}, nil)
	descPrograms = prometheus.NewDesc("xdpchain_chain_programs",
		"Programs in the interface's chain.",
		[]string{"netns", "interface"}, nil)
	descChanges = prometheus.NewDesc("xdpchain_chain_changes_total",
		"Dispatcher generations swapped in since the interface's root was attached (every owner's changes).",
		[]string{"netns", "interface"}, nil)
	descPluginUp = prometheus.NewDesc("xdpchain_plugin_up",
		"1 when the plugin's process for the interface runs and its last health check passed, else 0.",
		[]string{"plugin", "netns", "interface"}, nil)
	descReady = prometheus.NewDesc("xdpchain_ready",
		"1 when every configured interface's chain is in line with the config in force (what /readyz reports), else 0.",
		nil, nil)
	descScrapeError = prometheus.NewDesc("xdpchain_status_errors",
		"1 when the chains' status could not be read at this scrape (see the daemon's log), else 0.",
		nil, nil)
)

// chainCollector reads the chains and the plugin states at scrape time.
type chainCollector struct{ d *Daemon }

func (c *chainCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descFallthrough, descPrograms, descChanges, descPluginUp, descReady, descScrapeError, descRunSeconds, descRunHist} {
		ch <- d
	}
}

func (c *chainCollector) Collect(ch chan<- prometheus.Metric) {
	c.d.collectProfiles(ch)
	snap := c.d.snapshot()
	for _, p := range snap.plugins {
		up := 0.0
		if p.up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descPluginUp, prometheus.GaugeValue, up, p.name, p.netns, p.iface)
	}
	list, err := dispatcher.List(&dispatcher.Options{BPFFS: snap.cfg.Daemon.BPFFS, StateDir: snap.cfg.Daemon.StateDir})
	failed := 0.0
	if err != nil {
		failed = 1
		c.d.log.Warn("metrics: reading the chains failed", "error", err)
	}
	ch <- prometheus.MustNewConstMetric(descScrapeError, prometheus.GaugeValue, failed)
	ready := 0.0
	if err == nil && snap.notReady(list) == "" {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
	for i := range list {
		s := &list[i]
		if s.Damaged != "" || s.Foreign != nil {
			continue // nothing to count: unreadable, or another instance's
		}
		ch <- prometheus.MustNewConstMetric(descFallthrough, prometheus.CounterValue, float64(s.FallthroughPackets), s.NetNS, s.Name)
		ch <- prometheus.MustNewConstMetric(descPrograms, prometheus.GaugeValue, float64(len(s.Programs)), s.NetNS, s.Name)
		ch <- prometheus.MustNewConstMetric(descChanges, prometheus.CounterValue, float64(s.Generation), s.NetNS, s.Name)
		for _, p := range s.Programs {
			st := p.Stats
			for _, v := range []struct {
				verdict string
				n       uint64
			}{
				{"aborted", st.Aborted}, {"drop", st.Drop}, {"pass", st.Pass}, {"tx", st.TX},
				{"redirect", st.Redirect}, {"invalid", st.Invalid}, {"denied", st.Denied},
			} {
				ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(v.n), s.NetNS, s.Name, p.Name, p.Owner, v.verdict)
			}
		}
	}
}

// metricsServer serves /metrics, /healthz and /readyz.
type metricsServer struct {
	srv *http.Server
	ln  net.Listener
}

// serveMetrics starts the HTTP server on addr (config [daemon] metrics).
func (d *Daemon) serveMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("[daemon] metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", d.serveReadyz)
	ms := &metricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() {
		if err := ms.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics server failed", "address", addr, "error", err)
		}
	}()
	d.metricsSrv = ms
	d.log.Info("serving metrics and health", "address", ln.Addr().String())
	return nil
}

// MetricsAddr is the address the metrics and health server listens on
// (useful with port 0), or "" when none runs. Valid once Run has started
// serving (Ready is closed).
func (d *Daemon) MetricsAddr() string {
	if ms := d.metricsSrv; ms != nil {
		return ms.ln.Addr().String()
	}
	return ""
}

// stopMetrics closes the metrics server, if any.
func (d *Daemon) stopMetrics() {
	if ms := d.metricsSrv; ms != nil {
		ms.srv.Close()
	}
}
