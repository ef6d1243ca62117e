package vmtest

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// ErrFailed is returned by Report.Err when any kernel or package failed.
var ErrFailed = errors.New("vmtest failed")

// Options configure a harness run. The zero value of each field means its
// default.
type Options struct {
	Kernels     []string      // kernel lines or package names; default DefaultKernels
	Packages    []string      // go list patterns; default ./...
	Run         string        // -test.run for every test binary
	Bench       string        // when set, run benchmarks only: -test.run=^$ -test.bench=Bench
	BenchTime   string        // -test.benchtime with Bench; default 1x
	TestFlags   []string      // more flags for every test binary
	TestTimeout time.Duration // -test.timeout per binary; default 10m
	VMTimeout   time.Duration // host-side limit per boot; default 45m
	CacheDir    string        // default DefaultCacheDir()
	OutDir      string        // logs and work files; default <module>/vmtest-out
	Dir         string        // where to find the module; default "."
	Modules     []string      // kernel modules to insmod; default DefaultModules
	HostTools   []string      // host binaries copied with their libraries; default DefaultHostTools
	HostFiles   []string      // host files or directories copied to the same path; default DefaultHostFiles
	MemoryMB    int           // default 2048
	CPUs        int           // default 2
	Accel       string        // qemu -accel: default DefaultAccel; "kvm" adds -cpu host
	Payload     string        // "disk" (default): binaries on a virtio disk; "initrd": all in the initramfs
	Offline     bool          // use cached kernels only, never apt-get
	NoInstall   bool          // never apt-get install missing tools
	Qemu        string        // default qemu-system-x86_64
	Parallel    int           // kernels booted at once; default DefaultParallel
	KernelArgs  string        // appended to "console=ttyS0 panic=-1 quiet"
	Stdout      io.Writer     // progress and guest output; default os.Stdout
}

func (o *Options) setDefaults() {
	if len(o.Kernels) == 0 {
		o.Kernels = DefaultKernels
	}
	if len(o.Packages) == 0 {
		o.Packages = []string{"./..."}
	}
	if o.BenchTime == "" {
		o.BenchTime = "1x"
	}
	if o.TestTimeout == 0 {
		o.TestTimeout = 10 * time.Minute
	}
	if o.VMTimeout == 0 {
		o.VMTimeout = 45 * time.Minute
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if len(o.Modules) == 0 {
		o.Modules = DefaultModules
	}
	if o.HostTools == nil {
		o.HostTools = DefaultHostTools
	}
	if o.HostFiles == nil {
		o.HostFiles = DefaultHostFiles
	}
	if o.MemoryMB == 0 {
		o.MemoryMB = 2048
	}
	if o.CPUs == 0 {
		o.CPUs = 2
	}
	if o.Payload == "" {
		o.Payload = PayloadDisk
	}
	if o.Accel == "" {
		o.Accel = DefaultAccel
	}
	if o.Qemu == "" {
		o.Qemu = "qemu-system-x86_64"
	}
	if o.Parallel < 1 {
		o.Parallel = DefaultParallel
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	o.Stdout = &lineWriter{w: o.Stdout}
}

// Where the payload (test binaries, commands, testdata) travels.
const (
	PayloadDisk   = "disk"   // an uncompressed cpio on a virtio disk, unpacked by /init
	PayloadInitrd = "initrd" // inside the gzip-compressed initramfs
)

// diskModules are loaded in addition when the payload is on a disk.
var diskModules = []string{"virtio_pci", "virtio_blk"}

// DefaultModules are the kernel modules loaded in every guest: veth and
// dummy for test interfaces; xfrm_user and nfnetlink because
// vishvananda/netlink's default handle opens those netlink families too.
var DefaultModules = []string{"veth", "dummy", "xfrm_user", "nfnetlink"}

// DefaultHostTools are copied from the host into the guest's
// /usr/local/sbin (ahead of busybox in PATH), with their shared libraries:
// busybox's ip cannot create veth pairs or network namespaces.
var DefaultHostTools = []string{"ip", "bpftool", "tc"}

// DefaultHostFiles are copied from the host to the same paths in the
// guest when they exist: libxdp's BPF objects (xdp-dispatcher.o,
// xdpfilt_*.o from xdp-tools), which tests and benchmarks load.
var DefaultHostFiles = []string{"/usr/lib/x86_64-linux-gnu/bpf"}

// DefaultAccel is single-threaded TCG. With multi-threaded TCG (one host
// thread per vCPU) the 6.12 kernel oopsed ("Oops: int3" in
// bpf_dispatcher_xdp_func, then a panic) in about one run of three while
// XDP programs were swapped under traffic: the kernel live-patches its
// XDP dispatcher with int3-based text_poke_bp, which multi-threaded TCG
// does not emulate faithfully across vCPUs. Single-threaded TCG runs both
// vCPUs in one host thread and did not crash; see docs/vmtest.md.
const DefaultAccel = "tcg,thread=single"

// DefaultParallel boots two kernels at once: with single-threaded TCG each
// VM uses one host core, and the project's machines have two.
const DefaultParallel = 2

// lineWriter serializes writes, so that lines of kernels booted in
// parallel do not interleave within a line.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// DefaultCacheDir is where kernels are kept between runs:
// $XDPCHAIN_VMTEST_CACHE, else $XDG_CACHE_HOME/xdpchain-vmtest, else
// /var/cache/xdpchain-vmtest for root, else ~/.cache/xdpchain-vmtest.
func DefaultCacheDir() string {
	if d := os.Getenv("XDPCHAIN_VMTEST_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "xdpchain-vmtest")
	}
	if os.Geteuid() == 0 {
		return "/var/cache/xdpchain-vmtest"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "xdpchain-vmtest")
	}
	return filepath.Join(os.TempDir(), "xdpchain-vmtest")
}

// Report is the outcome of a harness run.
type Report struct {
	Module    string
	Packages  []*TestPackage
	Commands  []*command
	Kernels   []*KernelResult
	BuildTime time.Duration
	Total     time.Duration
}

// Err returns nil when every kernel passed every package, and otherwise an
// error wrapping ErrFailed.
func (r *Report) Err() error {
	var bad []string
	for _, p := range r.Packages {
		if p.Binary == "" {
			bad = append(bad, "build of "+p.ImportPath)
		}
	}
	for _, k := range r.Kernels {
		if !k.OK() {
			bad = append(bad, "kernel "+k.Kernel.Name)
		}
	}
	if len(r.Kernels) == 0 {
		bad = append(bad, "no kernel ran")
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrFailed, strings.Join(bad, ", "))
}

// Run builds the test binaries, boots every kernel and runs them. The
// returned error is about the harness itself; test results are in the
// Report (see Report.Err).
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.setDefaults()
	start := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(opts.Stdout, "vmtest: "+format+"\n", args...)
	}

	busybox, err := ensureTools(&opts, logf)
	if err != nil {
		return nil, err
	}
	mod, err := findModule(opts.Dir)
	if err != nil {
		return nil, err
	}
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join(mod.Dir, "vmtest-out")
	}
	work := filepath.Join(opts.OutDir, "work")
	binDir := filepath.Join(work, "bin")
	logDir := filepath.Join(opts.OutDir, "logs")
	kernelDir := filepath.Join(opts.CacheDir, "kernels")
	// Binaries of an earlier run must not linger in the guest.
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	for _, d := range []string{binDir, logDir, kernelDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}

	// Kernels first: a missing one is a setup problem worth knowing early.
	store := &kernelStore{dir: kernelDir, offline: opts.Offline, log: logf}
	type kernelPrep struct {
		k   *Kernel
		err error
	}
	var kernels []kernelPrep
	for _, name := range opts.Kernels {
		k, err := store.get(name)
		if err != nil {
			k = &Kernel{Name: name}
		}
		kernels = append(kernels, kernelPrep{k, err})
	}

	report := &Report{Module: mod.Path}
	buildStart := time.Now()
	pkgs, err := listTestPackages(mod, opts.Packages)
	if err != nil {
		return nil, err
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no package with tests matches %s", strings.Join(opts.Packages, " "))
	}
	report.Packages = pkgs
	logf("building %d test packages (CGO_ENABLED=0 go test -c)", len(pkgs))
	buildTests(mod, pkgs, binDir, logf)
	if report.Commands, err = listCommands(mod); err != nil {
		return nil, err
	}
	buildCommands(mod, report.Commands, binDir, logf)
	testdata, err := testdataDirs(mod)
	if err != nil {
		return nil, err
	}

	root, err := rootFiles(mod)
	if err != nil {
		return nil, err
	}
	tools, missing := findHostTools(opts.HostTools)
	if len(missing) > 0 {
		logf("host tools not copied to the guest: %s", strings.Join(missing, ", "))
	}
	var hostFiles []string
	for _, f := range opts.HostFiles {
		if _, err := os.Stat(f); err != nil {
			logf("host file not copied to the guest: %v", err)
			continue
		}
		hostFiles = append(hostFiles, f)
	}

	var runs []guestRun
	for _, p := range pkgs {
		if p.Binary != "" {
			runs = append(runs, guestRun{
				Package: p.ImportPath,
				Dir:     guestSrc + "/" + p.Rel,
				Binary:  guestTests + "/" + p.GuestName(),
				Args:    testArgs(&opts),
			})
		}
	}
	xdpchainGuest := ""
	for _, c := range report.Commands {
		if "/bin/"+c.Name == guestBin && c.Binary != "" {
			xdpchainGuest = guestBin
		}
	}
	if xdpchainGuest == "" {
		logf("no %s in the guest: cmd/xdpchain is missing or did not build", guestBin)
	}
	if opts.Payload != PayloadDisk && opts.Payload != PayloadInitrd {
		return nil, fmt.Errorf("unknown payload %q: want %s or %s", opts.Payload, PayloadDisk, PayloadInitrd)
	}
	disk := ""
	if opts.Payload == PayloadDisk {
		disk = filepath.Join(work, "payload.cpio")
	}
	script, err := initScript(runs, xdpchainGuest, disk != "")
	if err != nil {
		return nil, err
	}
	common := filepath.Join(work, "initramfs-common.cpio.gz")
	if err := writeCommonInitramfs(common, disk, &payload{
		Busybox: busybox, Commands: report.Commands, Packages: pkgs,
		Module: mod, Testdata: testdata, Root: root, Tools: tools, HostFiles: hostFiles, Init: script,
	}); err != nil {
		return nil, fmt.Errorf("writing initramfs: %w", err)
	}
	report.BuildTime = time.Since(buildStart)
	logf("initramfs: %d packages, %d testdata dirs, %s, built in %s",
		len(runs), len(testdata), sizes(common, disk), report.BuildTime.Round(100*time.Millisecond))

	// Kernels boot one after the other, or up to opts.Parallel at once.
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for _, kp := range kernels {
		res := newKernelResult(kp.k, pkgs)
		report.Kernels = append(report.Kernels, res)
		if kp.err != nil {
			res.Err = kp.err
			logf("kernel %s: %v", kp.k.Name, kp.err)
			continue
		}
		// Taking the slot before starting keeps the order of -kernels.
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if ctx.Err() != nil {
				res.Err = ctx.Err()
				return
			}
			res.Err = bootKernel(ctx, kp.k, common, disk, work, logDir, &opts, res, logf)
			if res.Err != nil {
				logf("kernel %s: %v", kp.k.Name, res.Err)
			}
		}()
	}
	wg.Wait()
	report.Total = time.Since(start)
	return report, nil
}

func testArgs(opts *Options) []string {
	args := []string{"-test.v", "-test.count=1", "-test.timeout=" + opts.TestTimeout.String()}
	if opts.Bench != "" {
		args = append(args, "-test.run=^$", "-test.bench="+opts.Bench, "-test.benchtime="+opts.BenchTime)
	} else if opts.Run != "" {
		args = append(args, "-test.run="+opts.Run)
	}
	return append(args, opts.TestFlags...)
}

func sizes(initrd, disk string) string {
	mib := func(p string) float64 {
		st, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return float64(st.Size()) / (1 << 20)
	}
	s := fmt.Sprintf("initramfs %.1f MiB (gzip)", mib(initrd))
	if disk != "" {
		s += fmt.Sprintf(", payload disk %.1f MiB", mib(disk))
	}
	return s
}

func bootKernel(ctx context.Context, k *Kernel, common, disk, work, logDir string, opts *Options, res *KernelResult, logf func(string, ...any)) error {
	modNames := opts.Modules
	if disk != "" {
		modNames = append(slices.Clone(diskModules), modNames...)
	}
	mods, err := k.Modules(modNames)
	if err != nil {
		return err
	}
	safe := strings.NewReplacer("/", "_", " ", "_").Replace(k.Name)
	part := filepath.Join(work, "initramfs-"+safe+"-modules.cpio.gz")
	if err := writeKernelInitramfs(part, k, mods); err != nil {
		return err
	}
	initrd := filepath.Join(work, "initramfs-"+safe+".cpio.gz")
	if err := concatFiles(initrd, common, part); err != nil {
		return err
	}
	res.LogFile = filepath.Join(logDir, "vmtest-"+safe+".log")
	lf, err := os.Create(res.LogFile)
	if err != nil {
		return err
	}
	defer lf.Close()
	logf("kernel %s: booting %s (%s) with qemu, %s, %d MiB, %d CPUs, payload %s; log %s",
		k.Name, k.Package, k.Release, opts.Accel, opts.MemoryMB, opts.CPUs, opts.Payload, res.LogFile)
	return runVM(ctx, k, initrd, disk, opts, res, opts.Stdout, lf)
}

// ensureTools finds qemu and a static busybox, installing their Debian
// packages when they are missing and we may. It returns busybox's path.
func ensureTools(opts *Options, logf func(string, ...any)) (string, error) {
	need := map[string]string{}
	if _, err := exec.LookPath(opts.Qemu); err != nil {
		need["qemu-system-x86"] = opts.Qemu
	}
	busybox := findStaticBusybox()
	if busybox == "" {
		need["busybox-static"] = "static busybox"
	}
	if _, err := exec.LookPath("xz"); err != nil {
		need["xz-utils"] = "xz"
	}
	if len(need) == 0 {
		return busybox, nil
	}
	var pkgs, what []string
	for p, w := range need {
		pkgs = append(pkgs, p)
		what = append(what, w)
	}
	if opts.NoInstall || os.Geteuid() != 0 {
		return "", fmt.Errorf("missing %s: install %s", strings.Join(what, ", "), strings.Join(pkgs, " "))
	}
	logf("installing %s", strings.Join(pkgs, " "))
	install := append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)
	if out, err := exec.Command("apt-get", install...).CombinedOutput(); err != nil {
		logf("apt-get install failed, updating package lists: %s", strings.TrimSpace(string(out)))
		if out, err := exec.Command("apt-get", "update").CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get update: %w\n%s", err, out)
		}
		if out, err := exec.Command("apt-get", install...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get install: %w\n%s", err, out)
		}
	}
	if busybox = findStaticBusybox(); busybox == "" {
		return "", errors.New("no static busybox after installing busybox-static")
	}
	return busybox, nil
}

func findStaticBusybox() string {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p
		}
	}
	return ""
}

// WriteSummary prints the results table and a closing count line.
func (r *Report) WriteSummary(w io.Writer) {
	short := func(ip string) string {
		if rest, ok := strings.CutPrefix(ip, r.Module); ok {
			return "." + rest
		}
		return ip
	}
	fmt.Fprintln(w, "\nvmtest summary")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tPACKAGE\tRESULT\tPASS\tFAIL\tSKIP\tTIME\t")
	var pass, fail, skip int
	for _, k := range r.Kernels {
		for _, p := range k.Packages {
			dur := "-"
			if p.Duration > 0 {
				dur = p.Duration.Round(100 * time.Millisecond).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t\n", k.Kernel.Name, short(p.Package), p.Status(), p.Pass, p.Fail, p.Skip, dur)
			pass += p.Pass
			skip += p.Skip
			fail += p.Fail
			if !p.OK() && p.Fail == 0 {
				fail++ // a package that failed without a failing test line
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, k := range r.Kernels {
		verdict := "PASS"
		if !k.OK() {
			verdict = "FAIL"
		}
		done := k.Done
		if done == "" {
			done = "missing"
		}
		pkg := k.Kernel.Package
		if pkg == "" {
			pkg = "?"
		}
		fmt.Fprintf(w, "kernel %s: %s (%s): boot %s (guest uptime %ss at init, %ss ready), total %s, DONE %s: %s\n",
			k.Kernel.Name, pkg, k.Kernel.Release, k.Ready.Round(100*time.Millisecond), orDash(k.GuestBoot), orDash(k.GuestReady),
			k.Total.Round(100*time.Millisecond), done, verdict)
		if k.Err != nil {
			fmt.Fprintf(w, "  error: %v\n", k.Err)
		}
		for _, s := range k.Setup {
			fmt.Fprintf(w, "  guest setup: %s\n", s)
		}
		for _, s := range k.Oops {
			fmt.Fprintf(w, "  kernel: %s\n", s)
		}
		for _, p := range k.Packages {
			for _, t := range p.Failed {
				fmt.Fprintf(w, "  FAIL %s %s\n", short(p.Package), t)
			}
			for _, t := range p.Skipped {
				fmt.Fprintf(w, "  SKIP %s %s\n", short(p.Package), t)
			}
			for _, b := range p.Benchmarks {
				fmt.Fprintf(w, "  BENCH %s %s\n", short(p.Package), b)
			}
		}
		if k.LogFile != "" {
			fmt.Fprintf(w, "  log: %s\n", k.LogFile)
		}
	}
	for _, p := range r.Packages {
		if p.Binary == "" {
			fmt.Fprintf(w, "build failure: %s\n%s\n", p.ImportPath, indent(p.BuildLog, "    "))
		}
	}
	for _, c := range r.Commands {
		if c.Err != nil {
			fmt.Fprintf(w, "note: command missing in the guest: %v\n", c.Err)
		}
	}
	fmt.Fprintf(w, "build %s, total %s\n", r.BuildTime.Round(100*time.Millisecond), r.Total.Round(time.Second))
	fmt.Fprintf(w, "vmtest: %d passed, %d failed, %d skipped\n", pass, fail, skip)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
