package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// The many-interfaces benchmark (`xdpchain bench --path interfaces`): the
// daemon (`xdpchain run`, the binary given) with one [[interface]] glob
// that matches Interfaces veths of a network namespace of the run's own,
// and Programs udp programs from the config on all of them. It measures:
//
//   - ready: from the daemon's start until /readyz says 200 and every
//     interface runs a generation (xdpchain_chain_changes_total);
//   - change: from SIGHUP with one program's priority changed (the chain
//     reordered on every interface) until every interface runs one more
//     generation;
//   - the daemon's RSS once ready, and its CPU time while idle over
//     IdleWindow (which should span a drift check).

// Defaults of the many-interfaces benchmark.
const (
	DefaultManyInterfaces = 250
	DefaultManyPrograms   = 10
	DefaultIdleWindow     = 35 * time.Second
)

// Targets of the many-interfaces benchmark (250 interfaces × 10 programs).
const (
	TargetManyReady  = 5 * time.Second
	TargetManyChange = 2 * time.Second
	TargetManyRSSMB  = 100.0
	TargetManyIdle   = 0.5 // percent of one CPU
)

// ManyOptions configure RunMany.
type ManyOptions struct {
	// Bin is the xdpchain binary to run as the daemon.
	Bin        string
	Interfaces int
	Programs   int
	// IdleWindow is how long idle CPU is measured; 0 leaves it out.
	IdleWindow time.Duration
	Progress   io.Writer
}

// ManyResult is a run of the many-interfaces benchmark.
type ManyResult struct {
	Kernel     string        `json:"kernel"`
	Started    time.Time     `json:"started"`
	Interfaces int           `json:"interfaces"`
	Programs   int           `json:"programs"`
	Ready      time.Duration `json:"ready_ns"`
	// ReadyCPU is the daemon's CPU time (user and system) until ready.
	ReadyCPU   time.Duration `json:"ready_cpu_ns"`
	Change     time.Duration `json:"change_ns"`
	RSSMB      float64       `json:"rss_mb"`
	IdleWindow time.Duration `json:"idle_window_ns"`
	// IdleCPU is the daemon's CPU time while idle, in percent of one CPU.
	IdleCPU float64 `json:"idle_cpu_percent"`
	Checks  []Check `json:"checks"`
}

// Failed returns the checks that missed their target.
func (r *ManyResult) Failed() []Check { return failed(r.Checks) }

// RunMany runs the many-interfaces benchmark.
func RunMany(ctx context.Context, o ManyOptions) (_ *ManyResult, err error) {
	if o.Interfaces == 0 {
		o.Interfaces = DefaultManyInterfaces
	}
	if o.Programs == 0 {
		o.Programs = DefaultManyPrograms
	}
	if o.Interfaces < 1 || o.Interfaces > 2000 || o.Programs < 1 || o.Programs > 64 {
		return nil, fmt.Errorf("%d interfaces × %d programs: want 1..2000 × 1..64", o.Interfaces, o.Programs)
	}
	res := &ManyResult{Kernel: kernelRelease(), Started: time.Now(), Interfaces: o.Interfaces, Programs: o.Programs, IdleWindow: o.IdleWindow}
	work, err := newWorkDir(true)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, work.Close()) }()
	ns, err := newBenchNS()
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ns.Close()) }()
	progressf(o.Progress, "creating %d veth pairs in %s", o.Interfaces, ns.name)
	for i := 0; i < o.Interfaces; i++ {
		name := fmt.Sprintf("mif%d", i)
		if err := ns.nl.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: fmt.Sprintf("pif%d", i)}); err != nil {
			return nil, fmt.Errorf("adding veth %s in %s: %w", name, ns.name, err)
		}
		for _, n := range []string{name, fmt.Sprintf("pif%d", i)} {
			l, err := ns.nl.LinkByName(n)
			if err == nil {
				err = ns.nl.LinkSetUp(l)
			}
			if err != nil {
				return nil, fmt.Errorf("setting %s up: %w", n, err)
			}
		}
	}
	if _, err := testprogs.WriteFile(work.dir, testprogs.UDP); err != nil {
		return nil, err
	}
	addr, err := freeLocalAddr()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(work.dir, "config.toml")
	write := func(moved int) error {
		var b strings.Builder
		fmt.Fprintf(&b, "[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\nmetrics = %q\n\n", work.bpffs(), work.state(), filepath.Join(work.dir, "xdpchain.sock"), addr)
		fmt.Fprintf(&b, "[[interface]]\nname = \"mif*\"\nnetns = %q\nmode = \"native\"\n", ns.name)
		for i := 0; i < o.Programs; i++ {
			prio := 100 + i
			if i == moved {
				prio = 99 // first
			}
			fmt.Fprintf(&b, "\n[[program]]\nname = \"udp%02d\"\nobject = \"udp.o\"\ninterfaces = [\"mif*\"]\npriority = %d\n", i, prio)
		}
		return os.WriteFile(cfg, []byte(b.String()), 0o600)
	}
	if err := write(-1); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(work.dir, "daemon.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	progressf(o.Progress, "starting the daemon: %d interfaces × %d programs", o.Interfaces, o.Programs)
	cmd := exec.CommandContext(ctx, o.Bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s run: %w", o.Bin, err)
	}
	exited := make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		if werr != nil && err == nil && !strings.Contains(werr.Error(), "signal") {
			err = fmt.Errorf("the daemon: %w (log: %s)", werr, tail(logf.Name()))
		}
	}()
	base := "http://" + addr
	// Ready: /readyz 200 and every interface at generation 1 or more.
	wait := func(what string, ok func() (bool, error)) (time.Duration, error) {
		t0 := time.Now()
		for {
			done, err := ok()
			if err != nil {
				return 0, err
			}
			if done {
				return time.Since(t0), nil
			}
			select {
			case <-exited:
				return 0, fmt.Errorf("the daemon exited while %s: %v (log: %s)", what, werr, tail(logf.Name()))
			default:
			}
			if time.Since(t0) > 10*time.Minute {
				return 0, fmt.Errorf("%s: not after 10 minutes (log: %s)", what, tail(logf.Name()))
			}
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	_, err = wait("getting ready", func() (bool, error) {
		r, err := http.Get(base + "/readyz")
		if err != nil {
			return false, nil // not listening yet
		}
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			return false, nil
		}
		n, _, err := generations(base)
		return n >= o.Interfaces, err
	})
	if err != nil {
		return nil, err
	}
	res.Ready = time.Since(start)
	if res.ReadyCPU, err = cpuTime(cmd.Process.Pid); err != nil {
		return nil, err
	}
	progressf(o.Progress, "ready after %v (%v of CPU)", res.Ready, res.ReadyCPU)
	if res.RSSMB, err = rssMB(cmd.Process.Pid); err != nil {
		return nil, err
	}
	_, before, err := generations(base)
	if err != nil {
		return nil, err
	}
	if err := write(o.Programs - 1); err != nil {
		return nil, err
	}
	// A scrape of /metrics reads every interface's status, work a scraper
	// does every 15 s or so: scraped every 10 ms while the change runs, it
	// would take a tenth of a CPU from the change it measures. So the
	// daemon's log says when the reload is done, and then /metrics checks
	// that every interface runs one more generation.
	reloads := func() (int, error) {
		b, err := os.ReadFile(logf.Name())
		if bytes.Contains(b, []byte("reload refused")) {
			return 0, fmt.Errorf("the daemon refused the change (log: %s)", tail(logf.Name()))
		}
		return bytes.Count(b, []byte(`"config reloaded"`)), err
	}
	reloaded, err := reloads()
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return nil, err
	}
	_, err = wait("applying a change", func() (bool, error) {
		if n, err := reloads(); n == reloaded || err != nil {
			return false, err
		}
		_, sum, err := generations(base)
		return sum >= before+uint64(o.Interfaces), err
	})
	if err != nil {
		return nil, err
	}
	res.Change = time.Since(t1)
	progressf(o.Progress, "one change on all interfaces after %v", res.Change)
	if o.IdleWindow > 0 {
		progressf(o.Progress, "idle CPU over %v", o.IdleWindow)
		c0, err := cpuTime(cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		t2 := time.Now()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(o.IdleWindow):
		}
		c1, err := cpuTime(cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		res.IdleCPU = 100 * (c1 - c0).Seconds() / time.Since(t2).Seconds()
	}
	if o.Interfaces == DefaultManyInterfaces && o.Programs == DefaultManyPrograms {
		res.Checks = append(res.Checks,
			Check{Name: "ready (s)", Value: res.Ready.Seconds(), Target: fmt.Sprintf("< %v", TargetManyReady), OK: res.Ready < TargetManyReady},
			Check{Name: "one change on all (s)", Value: res.Change.Seconds(), Target: fmt.Sprintf("< %v", TargetManyChange), OK: res.Change < TargetManyChange},
			Check{Name: "daemon RSS (MB)", Value: res.RSSMB, Target: fmt.Sprintf("< %.0f", TargetManyRSSMB), OK: res.RSSMB < TargetManyRSSMB},
		)
		if o.IdleWindow > 0 {
			res.Checks = append(res.Checks, Check{Name: "idle CPU (%)", Value: res.IdleCPU, Target: fmt.Sprintf("< %.1f", TargetManyIdle), OK: res.IdleCPU < TargetManyIdle})
		}
	}
	return res, nil
}

// generations scrapes /metrics: how many interfaces report a chain
// generation, and their sum.
func generations(base string) (int, uint64, error) {
	r, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, 0, fmt.Errorf("scraping the daemon's metrics: %w", err)
	}
	defer r.Body.Close()
	n, sum := 0, uint64(0)
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "xdpchain_chain_changes_total{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("metrics line %q: %w", line, err)
		}
		if v >= 1 {
			n++
		}
		sum += uint64(v)
	}
	return n, sum, sc.Err()
}

// freeLocalAddr returns a loopback address with a port nobody listens on.
func freeLocalAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// rssMB returns a process's resident set size in MB.
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cpuTime returns the user and system time a process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): utime and stime are the 12th and 13th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks float64
	for _, v := range f[11:13] {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ticks / clkTck * float64(time.Second)), nil
}

// tail returns the last lines of a file, for errors.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// WriteMarkdown prints the result.
func (r *ManyResult) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Kernel %s, %d veths matched by one interface glob, %d programs from the config on each, native XDP, %s.\n\n",
		r.Kernel, r.Interfaces, r.Programs, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("| measure | value |\n|---|---:|\n")
	fmt.Fprintf(&b, "| ready (daemon start → /readyz 200, every interface at generation ≥ 1) | %.2f s |\n", r.Ready.Seconds())
	fmt.Fprintf(&b, "| the daemon's CPU time until ready | %.2f s |\n", r.ReadyCPU.Seconds())
	fmt.Fprintf(&b, "| one change on all (SIGHUP → every interface one generation further) | %.2f s |\n", r.Change.Seconds())
	fmt.Fprintf(&b, "| daemon RSS when ready | %.1f MB |\n", r.RSSMB)
	if r.IdleWindow > 0 {
		fmt.Fprintf(&b, "| daemon CPU while idle (%v) | %.2f %% |\n", r.IdleWindow, r.IdleCPU)
	}
	if len(r.Checks) > 0 {
		writeChecks(&b, r.Checks)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
