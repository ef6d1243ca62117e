package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/xdp"
)

// The real packet path benchmark (`xdpchain bench --path veth`).
//
// Every configuration gets a veth pair of its own, both ends attached in
// native (driver) mode: on one end the configuration under measurement,
// whose last program returns XDP_TX; on the other the reflect program,
// which sends every frame back with XDP_TX and counts it. VethFrames
// frames injected once through an AF_PACKET socket then circulate between
// the two ends in the kernel's receive path (veth NAPI, XDP, XDP_TX to the
// peer) until the reflector is told to drop them, and the rate is the
// reflector's count over a window. Both ends run on the CPU that sent the
// injection, in softirq (veth schedules its peer's NAPI on the CPU that
// transmits): the configuration's cost is part of every round trip, so the
// rate falls as it grows. Every injection is sent from the same CPU (the
// last one the process may use), so that every configuration runs on the
// same core. No generator is involved
// (pktgen and xdp-trafficgen need not exist), and no socket sender limits
// the rate.
//
// The configurations of one test program (the bodies before the final
// program) are measured round robin, each round starting one further on;
// a row's ratios are the medians over rounds of its rate divided by the
// rate of the final program alone, and of the back-to-back program, in
// the same round. Every test program is a phase of its own: its
// configurations are set up, measured and released before the next's.

// Defaults of the veth path benchmark.
const (
	// DefaultVethCount is how many programs (of each test program) run
	// before the final program.
	DefaultVethCount = 10
	// DefaultVethWindow is how long one measurement counts.
	DefaultVethWindow = 400 * time.Millisecond
	// VethFrames is how many frames circulate: under the NAPI budget (64)
	// and the veth ring (256), so that none is dropped for lack of room.
	VethFrames = 64
	// TargetVethRatio is the smallest acceptable rate of the inline chain
	// relative to its final program alone, and to the same programs
	// merged back to back into one.
	TargetVethRatio = 0.90
)

// VethOptions configure RunVeth.
type VethOptions struct {
	// Count is the number of programs before the final one. Default
	// DefaultVethCount.
	Count int
	// Programs are the test programs (ProgramNoop, ProgramUDP) that run
	// before the final one, one phase each. Default DefaultPrograms.
	Programs []string
	// Mechanisms are the dispatcher's mechanisms measured. Default
	// DefaultMechanisms.
	Mechanisms []dispatcher.Mechanism
	// Rounds is how many times each configuration is measured. Default
	// DefaultRounds.
	Rounds int
	// Window is how long each measurement counts. Default
	// DefaultVethWindow.
	Window time.Duration
	// BPFFS and StateDir as in Options (default: the run's own).
	BPFFS    string
	StateDir string
	// Progress, when set, receives one line per step.
	Progress io.Writer
}

// VethRow is one configuration of the veth path.
type VethRow struct {
	// Kind is Plain for the final program alone, MonolithicInline for the
	// test program's bodies and the final program's merged back to back
	// into one program (testdata/monolithic.c, -DTX=1), TailCall for the
	// tail-call chain (the test programs, then the final one), or the
	// dispatcher's mechanism (counters on).
	Kind Kind `json:"kind"`
	// Program is the test program of the phase: the bodies before the
	// final program (the final program alone runs none; it is measured in
	// every phase, as the phase's baseline).
	Program string `json:"program"`
	// Programs counts every program, the final one included.
	Programs int `json:"programs"`
	// Skipped gives the reason a configuration was not measured.
	Skipped string `json:"skipped,omitempty"`
	// Mpps are the rates of the rounds, in million frames per second.
	Mpps []float64 `json:"mpps,omitempty"`
	// Median of Mpps.
	Median float64 `json:"median_mpps,omitempty"`
	// VsAlone is the median over rounds of the rate divided by the final
	// program's alone in the same round.
	VsAlone float64 `json:"vs_alone,omitempty"`
	// VsBackToBack is the median over rounds of the rate divided by the
	// back-to-back program's in the same round; 0 without one.
	VsBackToBack float64 `json:"vs_back_to_back,omitempty"`
	// NsAdded is what the configuration adds per frame to the final
	// program alone's round trip, from the medians.
	NsAdded float64 `json:"ns_added,omitempty"`
}

// VethResult is a run of the veth path benchmark.
type VethResult struct {
	Kernel  string        `json:"kernel"`
	Started time.Time     `json:"started"`
	Rounds  int           `json:"rounds"`
	Window  time.Duration `json:"window_ns"`
	Frames  int           `json:"frames"`
	// CPU is the core every configuration ran on.
	CPU    int       `json:"cpu"`
	Rows   []VethRow `json:"rows"`
	Checks []Check   `json:"checks"`
}

// Failed returns the checks that missed their target.
func (r *VethResult) Failed() []Check { return failed(r.Checks) }

func (o *VethOptions) withDefaults() (VethOptions, error) {
	var out VethOptions
	if o != nil {
		out = *o
	}
	if out.Count == 0 {
		out.Count = DefaultVethCount
	}
	if out.Count < 1 || out.Count+1 > dispatcher.MaxPrograms {
		return out, fmt.Errorf("%d programs before the final one: want 1..%d", out.Count, dispatcher.MaxPrograms-1)
	}
	if out.Rounds == 0 {
		out.Rounds = DefaultRounds
	}
	if out.Rounds < 1 {
		return out, fmt.Errorf("rounds %d: want at least 1", out.Rounds)
	}
	if out.Window == 0 {
		out.Window = DefaultVethWindow
	}
	if out.Window < 10*time.Millisecond {
		return out, fmt.Errorf("window %v: want at least 10ms", out.Window)
	}
	programs, err := testPrograms(out.Programs)
	if err != nil {
		return out, err
	}
	out.Programs = programs
	if out.Mechanisms == nil {
		out.Mechanisms = slices.Clone(DefaultMechanisms)
	}
	for _, m := range out.Mechanisms {
		if m != dispatcher.Linked && m != dispatcher.Inline {
			return out, fmt.Errorf("mechanism %q on the veth path: want linked or inline", m)
		}
	}
	out.Mechanisms = unique(out.Mechanisms)
	return out, nil
}

const xdpTX = uint32(xdp.TX)

// loop is one configuration's veth pair: the configuration on one end,
// the reflector on the other, and the socket that injects frames.
type loop struct {
	row     VethRow
	s       *subject
	count   *ebpf.Map // the reflector's per-CPU count
	stop    *ebpf.Map // its drop switch
	sock    int       // AF_PACKET, bound to the reflector's end
	ifindex int       // the reflector's end
	root    *dispatcher.Root
}

func (l *loop) Close() error {
	var errs []error
	if l.sock > 0 {
		errs = append(errs, unix.Close(l.sock))
		l.sock = 0
	}
	errs = append(errs, l.s.Close())
	return errors.Join(errs...)
}

// RunVeth measures the configurations on the real packet path.
func RunVeth(ctx context.Context, opts *VethOptions) (_ *VethResult, err error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	res := &VethResult{Kernel: kernelRelease(), Started: time.Now(), Rounds: o.Rounds, Window: o.Window, Frames: VethFrames}
	if res.CPU, err = lastCPU(); err != nil {
		return nil, err
	}
	if o.BPFFS == "" || o.StateDir == "" {
		work, err := newWorkDir(o.BPFFS == "")
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, work.Close()) }()
		if o.StateDir == "" {
			o.StateDir = work.state()
		}
		if o.BPFFS == "" {
			o.BPFFS = work.bpffs()
		}
	}
	ns, err := newBenchNS()
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ns.Close()) }()
	for _, program := range o.Programs {
		if err := runVethPhase(ctx, ns, &o, program, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// runVethPhase sets up, measures and releases the configurations of one
// test program, and adds their rows and checks to res.
func runVethPhase(ctx context.Context, ns *benchNS, o *VethOptions, program string, res *VethResult) (err error) {
	var (
		loops []*loop
		// rows are the phase's rows in order, skipped ones among them;
		// a measured row's is its loop's.
		rows []*VethRow
	)
	defer func() {
		for _, l := range loops {
			err = errors.Join(err, l.Close())
		}
	}()
	add := func(row VethRow, fill func(s *subject, ifname string, ifindex int) (*dispatcher.Root, error)) error {
		progressf(o.Progress, "setup %s", vethLabel(row))
		l, err := newLoop(ns, row, fill)
		if err != nil {
			return fmt.Errorf("setting up %s: %w", vethLabel(row), err)
		}
		loops = append(loops, l)
		rows = append(rows, &l.row)
		return nil
	}
	n := o.Count
	err = add(VethRow{Kind: Plain, Program: program, Programs: 1}, func(s *subject, ifname string, ifindex int) (*dispatcher.Root, error) {
		prog, err := loadFinal(s)
		if err != nil {
			return nil, err
		}
		return nil, attachXDPTo(ns, s, prog, ifname, ifindex)
	})
	if err != nil {
		return err
	}
	b2b := VethRow{Kind: MonolithicInline, Program: program, Programs: n + 1}
	if slices.Contains(testprogs.MonolithicTXCounts, n) {
		err = add(b2b, func(s *subject, ifname string, ifindex int) (*dispatcher.Root, error) {
			return nil, vethBackToBack(ns, s, program, n, ifname, ifindex)
		})
		if err != nil {
			return err
		}
	} else {
		b2b.Skipped = fmt.Sprintf("no back-to-back program of %d bodies (built for %s)", n, strings.Trim(fmt.Sprint(testprogs.MonolithicTXCounts), "[]"))
		rows = append(rows, &b2b)
	}
	tc := VethRow{Kind: TailCall, Program: program, Programs: n + 1}
	if tc.Skipped = tailCallSkip(n + 1); tc.Skipped == "" {
		err = add(tc, func(s *subject, ifname string, ifindex int) (*dispatcher.Root, error) {
			return nil, vethTailCalls(ns, s, program, n, ifname, ifindex)
		})
		if err != nil {
			return err
		}
	} else {
		rows = append(rows, &tc)
	}
	for _, mech := range o.Mechanisms {
		chain := append(programChain(program, n), finalProgram())
		err := add(VethRow{Kind: Kind(mech), Program: program, Programs: len(chain)}, func(s *subject, ifname string, ifindex int) (*dispatcher.Root, error) {
			return attachRootTo(ns, o.BPFFS, o.StateDir, s, ifname, mech, chain, true)
		})
		if err != nil {
			return err
		}
	}

	// loops[0] is the final program alone; back is the back-to-back
	// program's index, or -1.
	back := slices.IndexFunc(loops, func(l *loop) bool { return l.row.Kind == MonolithicInline })
	vsAlone := make([][]float64, len(loops))
	vsBack := make([][]float64, len(loops))
	for round := 0; round < o.Rounds; round++ {
		rates := make([]float64, len(loops))
		for k := range loops {
			i := (round + k) % len(loops)
			if err := ctx.Err(); err != nil {
				return err
			}
			mpps, err := loops[i].measure(res.CPU, o.Window)
			if err != nil {
				return fmt.Errorf("measuring %s: %w", vethLabel(loops[i].row), err)
			}
			progressf(o.Progress, "round %d/%d: %s %.3f Mpps", round+1, o.Rounds, vethLabel(loops[i].row), mpps)
			rates[i] = mpps
			loops[i].row.Mpps = append(loops[i].row.Mpps, mpps)
		}
		for i := range loops {
			vsAlone[i] = append(vsAlone[i], rates[i]/rates[0])
			if back >= 0 {
				vsBack[i] = append(vsBack[i], rates[i]/rates[back])
			}
		}
	}
	for i, l := range loops {
		if err := l.check(); err != nil {
			return err
		}
		l.row.Median = Median(l.row.Mpps)
		l.row.VsAlone = Median(vsAlone[i])
		if back >= 0 {
			l.row.VsBackToBack = Median(vsBack[i])
		}
		if i > 0 {
			l.row.NsAdded = 1e3/l.row.Median - 1e3/loops[0].row.Median
		}
	}
	for _, row := range rows {
		res.Rows = append(res.Rows, *row)
	}
	for _, l := range loops {
		if l.row.Kind != Inline {
			continue
		}
		res.Checks = append(res.Checks, Check{
			Name:   fmt.Sprintf("veth path: %s / final program alone", vethLabel(l.row)),
			Value:  l.row.VsAlone,
			Target: fmt.Sprintf("≥ %.2f", TargetVethRatio),
			OK:     l.row.VsAlone >= TargetVethRatio,
		})
		if back >= 0 {
			res.Checks = append(res.Checks, Check{
				Name:   fmt.Sprintf("veth path: %s / back-to-back", vethLabel(l.row)),
				Value:  l.row.VsBackToBack,
				Target: fmt.Sprintf("≥ %.2f", TargetVethRatio),
				OK:     l.row.VsBackToBack >= TargetVethRatio,
			})
		}
	}
	return nil
}

// loadFinal loads the final program alone (verdict_tx); s keeps it.
func loadFinal(s *subject) (*ebpf.Program, error) {
	return loadProgram(s, testprogs.VerdictTx)
}

// vethTailCalls attaches the tail-call chain of the veth path to ifname:
// n programs of the tail-call object of the test program (literal keys),
// the final program at index n of their array, filled once.
func vethTailCalls(ns *benchNS, s *subject, program string, n int, ifname string, ifindex int) error {
	keep := map[string]bool{}
	for i := 0; i < n; i++ {
		keep[testprogs.TailCallProgram(i)] = true
	}
	coll, err := loadCollection(s, testprogs.TailCallOf(program), func(p string) bool { return keep[p] })
	if err != nil {
		return err
	}
	final, err := loadFinal(s)
	if err != nil {
		return err
	}
	arr := coll.Maps[testprogs.TailCallMap]
	for i := 0; i <= n; i++ {
		p := final
		if i < n {
			p = coll.Programs[testprogs.TailCallProgram(i)]
		}
		if err := arr.Put(uint32(i), p); err != nil {
			return fmt.Errorf("storing program %d of the tail-call chain: %w", i, err)
		}
	}
	first := coll.Programs[testprogs.TailCallProgram(0)]
	if err := returnsTX(first, "the tail-call chain"); err != nil {
		return err
	}
	return attachXDPTo(ns, s, first, ifname, ifindex)
}

// vethBackToBack attaches the back-to-back program of the veth path to
// ifname: n bodies of the test program and the final program's, merged by
// hand into one program (testdata/monolithic.c, -DTX=1).
func vethBackToBack(ns *benchNS, s *subject, program string, n int, ifname string, ifindex int) error {
	prog, err := loadProgram(s, testprogs.MonolithicTX(program, n))
	if err != nil {
		return err
	}
	if err := returnsTX(prog, "the back-to-back program"); err != nil {
		return err
	}
	return attachXDPTo(ns, s, prog, ifname, ifindex)
}

// returnsTX runs prog once on the benchmark packet (BPF_PROG_TEST_RUN):
// a configuration that does not send it back could not be measured.
func returnsTX(prog *ebpf.Program, what string) error {
	if ret, err := prog.Run(&ebpf.RunOptions{Data: udpPacket()}); err != nil || ret != xdpTX {
		return fmt.Errorf("%s returned %d (%v), want XDP_TX: it did not run to its end", what, ret, err)
	}
	return nil
}

// finalProgram is the chain's last program: XDP_TX, so that frames go back
// to the reflector.
func finalProgram() dispatcher.Program {
	return dispatcher.Program{
		Name:        "final",
		Priority:    dispatcher.DefaultPriority + 1, // after the udp programs
		ProceedOn:   dispatcher.DefaultProceedOn,
		Object:      testprogs.Object(testprogs.VerdictTx),
		ProgramName: testprogs.Program(testprogs.VerdictTx),
	}
}

func vethLabel(r VethRow) string {
	switch r.Kind {
	case Plain:
		return "final program alone"
	case MonolithicInline:
		return fmt.Sprintf("back-to-back %d %s", r.Programs, r.Program)
	case TailCall:
		return fmt.Sprintf("tailcall %d %s", r.Programs, r.Program)
	}
	return fmt.Sprintf("%s %d %s (counters on)", r.Kind, r.Programs, r.Program)
}

// newLoop creates a veth pair in ns, lets fill attach the configuration to
// one end and attaches the reflector to the other.
func newLoop(ns *benchNS, row VethRow, fill func(s *subject, ifname string, ifindex int) (*dispatcher.Root, error)) (_ *loop, err error) {
	l := &loop{row: row, s: &subject{}}
	defer closeOnError(l, &err)
	ifname, _, err := ns.newVeth()
	if err != nil {
		return nil, err
	}
	peer := ifname + "p"
	var ifindex int
	for name, idx := range map[string]*int{ifname: &ifindex, peer: &l.ifindex} {
		lk, err := ns.nl.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("finding %s in %s: %w", name, ns.name, err)
		}
		*idx = lk.Attrs().Index
	}
	if l.root, err = fill(l.s, ifname, ifindex); err != nil {
		return nil, err
	}
	coll, err := loadCollection(l.s, testprogs.Reflect, nil)
	if err != nil {
		return nil, err
	}
	l.count, l.stop = coll.Maps[testprogs.ReflectCount], coll.Maps[testprogs.ReflectStop]
	if err := attachXDPTo(ns, l.s, coll.Programs[testprogs.Program(testprogs.Reflect)], peer, l.ifindex); err != nil {
		return nil, err
	}
	err = ns.do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening an AF_PACKET socket: %w", err)
		}
		l.sock = fd
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := l.setStop(true); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *loop) setStop(stop bool) error {
	var v uint32
	if stop {
		v = 1
	}
	if err := l.stop.Put(uint32(0), v); err != nil {
		return fmt.Errorf("setting the reflector's stop: %w", err)
	}
	return nil
}

func (l *loop) reflected() (uint64, error) {
	var per []uint64
	if err := l.count.Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("reading the reflector's count: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// lastCPU returns the highest-numbered CPU the process may run on.
func lastCPU() (int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0, fmt.Errorf("reading the CPUs the process may use: %w", err)
	}
	for cpu := len(set)*64 - 1; cpu >= 0; cpu-- {
		if set.IsSet(cpu) {
			return cpu, nil
		}
	}
	return 0, errors.New("the process may use no CPU")
}

// measure injects VethFrames frames from cpu, lets them circulate for a
// tenth of the window, counts them over the window, and drains the loop.
func (l *loop) measure(cpu int, window time.Duration) (float64, error) {
	if err := l.setStop(false); err != nil {
		return 0, err
	}
	pkt := udpPacket()
	to := &unix.SockaddrLinklayer{Ifindex: l.ifindex, Protocol: htons(unix.ETH_P_IP), Halen: 6}
	copy(to.Addr[:], pkt[0:6])
	// On a thread of its own, discarded afterwards with its affinity.
	err := onLockedThread(func() error {
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return fmt.Errorf("moving the injecting thread to CPU %d: %w", cpu, err)
		}
		for i := 0; i < VethFrames; i++ {
			if err := unix.Sendto(l.sock, pkt, 0, to); err != nil {
				return fmt.Errorf("injecting frame %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, errors.Join(err, l.drain())
	}
	time.Sleep(window / 10)
	c0, err := l.reflected()
	if err != nil {
		return 0, errors.Join(err, l.drain())
	}
	t0 := time.Now()
	time.Sleep(window)
	c1, err := l.reflected()
	elapsed := time.Since(t0)
	if err := errors.Join(err, l.drain()); err != nil {
		return 0, err
	}
	if c1 == c0 {
		return 0, fmt.Errorf("no frame circulated (reflected %d before and after the window)", c0)
	}
	return float64(c1-c0) / elapsed.Seconds() / 1e6, nil
}

// drain drops the circulating frames and waits until none is left: the
// count stops moving.
func (l *loop) drain() error {
	if err := l.setStop(true); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	last, err := l.reflected()
	for err == nil {
		time.Sleep(20 * time.Millisecond)
		var n uint64
		n, err = l.reflected()
		if err == nil && n == last {
			return nil
		}
		last = n
		if time.Now().After(deadline) {
			return errors.New("frames still circulate 10 s after the reflector was told to drop them")
		}
	}
	return err
}

// check makes sure the configuration moved frames (a rate above 0 in every
// round) and that a dispatcher ran the chain it was given: every program
// counted frames, those before the final one XDP_PASS, the final one
// XDP_TX.
func (l *loop) check() error {
	for i, mpps := range l.row.Mpps {
		if !(mpps > 0) {
			return fmt.Errorf("%s reflected no frame in round %d", vethLabel(l.row), i+1)
		}
	}
	if l.root == nil {
		return nil
	}
	st, err := l.root.Status()
	if err != nil {
		return err
	}
	for i, p := range st.Programs {
		want := p.Stats.Pass
		if i == len(st.Programs)-1 {
			want = p.Stats.TX
		}
		if want == 0 || want != p.Stats.Total() {
			return fmt.Errorf("%s: program %s counted %+v: the chain did not run as configured", vethLabel(l.row), p.Name, p.Stats)
		}
	}
	return nil
}

// WriteMarkdown prints the result as a markdown table.
func (r *VethResult) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Kernel %s, veth pair in native XDP mode, %d 64-byte UDP frames circulating by XDP_TX against a reflector on CPU %d, %v windows, median of %d rounds (round robin), %s.\n\n",
		r.Kernel, r.Frames, r.CPU, r.Window, r.Rounds, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("| configuration | programs | Mpps (median) | rounds | × alone | × back-to-back | ns added per frame |\n")
	b.WriteString("|---|---:|---:|---|---:|---:|---:|\n")
	for _, row := range r.Rows {
		if row.Skipped != "" {
			fmt.Fprintf(&b, "| %s | %d | skipped: %s | | | | |\n", vethLabel(row), row.Programs, row.Skipped)
			continue
		}
		rounds := make([]string, len(row.Mpps))
		for i, m := range row.Mpps {
			rounds[i] = fmt.Sprintf("%.2f", m)
		}
		added := ""
		if row.Kind != Plain {
			added = fmt.Sprintf("%+.1f", row.NsAdded)
		}
		fmt.Fprintf(&b, "| %s | %d | %.3f | %s | %.3f | %s | %s |\n", vethLabel(row), row.Programs, row.Median, strings.Join(rounds, " "), row.VsAlone, fmtRatio(row.VsBackToBack), added)
	}
	b.WriteString("\n× alone, × back-to-back: medians of the per-round ratios to the final program alone and to the back-to-back program of the same phase and round; ns added: from the medians, against the final program alone.\n")
	if len(r.Checks) > 0 {
		writeChecks(&b, r.Checks)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// htons converts a 16-bit value to network byte order, as sockaddr_ll's
// protocol wants it.
func htons(v uint16) uint16 { return v<<8 | v>>8 }
