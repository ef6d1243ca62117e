package vmtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

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
