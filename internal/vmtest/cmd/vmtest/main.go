// Command vmtest runs the project's test suite inside Debian kernels under
// qemu. See docs/vmtest.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func main() {
	var opts vmtest.Options
	kernels := flag.String("kernels", strings.Join(vmtest.DefaultKernels, ","), "comma-separated kernel lines (6.1, 6.12) or linux-image-* package names")
	pkgs := flag.String("pkgs", "./...", "comma- or space-separated package patterns")
	modules := flag.String("modules", strings.Join(vmtest.DefaultModules, ","), "kernel modules to insmod in the guest (dependencies are added)")
	tools := flag.String("host-tools", strings.Join(vmtest.DefaultHostTools, ","), "host binaries copied into the guest with their libraries (\"\" for none)")
	hostFiles := flag.String("host-files", strings.Join(vmtest.DefaultHostFiles, ","), "host files or directories copied to the same paths in the guest (\"\" for none)")
	testflags := flag.String("testflags", "", "extra flags for every test binary, space-separated (e.g. \"-test.failfast\")")
	flag.StringVar(&opts.Run, "run", "", "run only tests matching `regex` (-test.run)")
	flag.StringVar(&opts.Bench, "bench", "", "run only benchmarks matching `regex` (-test.run=^$ -test.bench=regex)")
	flag.StringVar(&opts.BenchTime, "benchtime", "1x", "-test.benchtime with -bench")
	flag.DurationVar(&opts.TestTimeout, "timeout", 0, "-test.timeout per test binary (default 25m)")
	flag.DurationVar(&opts.VMTimeout, "vm-timeout", 0, "host-side limit per kernel boot (default 45m)")
	flag.StringVar(&opts.CacheDir, "cache", "", "kernel cache directory (default "+vmtest.DefaultCacheDir()+")")
	flag.StringVar(&opts.OutDir, "out", "", "logs and work files (default <module>/vmtest-out)")
	flag.IntVar(&opts.MemoryMB, "mem", 2048, "guest memory in MiB")
	flag.IntVar(&opts.CPUs, "smp", 2, "guest CPUs")
	flag.StringVar(&opts.Accel, "accel", vmtest.DefaultAccel, "qemu -accel value (tcg, tcg,thread=multi), or kvm where /dev/kvm works (it does not on the project's machines)")
	flag.StringVar(&opts.Payload, "payload", vmtest.PayloadDisk, "where test binaries travel: disk (a virtio disk unpacked by /init, faster) or initrd (all in the initramfs)")
	flag.StringVar(&opts.KernelArgs, "append", "", "more kernel command line arguments")
	flag.IntVar(&opts.Parallel, "parallel", vmtest.DefaultParallel, "kernels booted at once")
	flag.BoolVar(&opts.Offline, "offline", false, "use cached kernels only; never run apt-get")
	flag.BoolVar(&opts.NoInstall, "no-install", false, "never apt-get install missing tools")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "vmtest: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	opts.Kernels = splitList(*kernels)
	opts.Packages = splitList(*pkgs)
	opts.Modules = splitList(*modules)
	opts.HostTools = splitList(*tools)
	if opts.HostTools == nil {
		opts.HostTools = []string{}
	}
	opts.TestFlags = strings.Fields(*testflags)
	opts.HostFiles = splitList(*hostFiles)
	if opts.HostFiles == nil {
		opts.HostFiles = []string{}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := vmtest.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest: %v\n", err)
		os.Exit(2)
	}
	report.WriteSummary(os.Stdout)
	if err := report.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "vmtest: %v\n", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
