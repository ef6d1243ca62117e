package vmtest

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options configure a harness run. The zero value of each field means its
// default.
type Options struct {
	Kernels     []string      // kernel lines or package names; default DefaultKernels
	Packages    []string      // go list patterns; default ./...
	Run         string        // -test.run for every test binary
	Bench       string        // when set, run benchmarks only: -test.run=^$ -test.bench=Bench
	BenchTime   string        // -test.benchtime with Bench; default 1x
	TestFlags   []string      // more flags for every test binary
	TestTimeout time.Duration // -test.timeout per binary; default 25m
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
	KernelArgs  string        // appended to "console=ttyS0 panic=-1 quiet no_timer_check"
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
		o.TestTimeout = 25 * time.Minute
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
// vishvananda/netlink's default handle opens those netlink families too;
// nf_conntrack for its BPF kfuncs (bpf_xdp_ct_lookup), which the corpus's
// SYN proxy calls (Debian builds conntrack as a module; its kfuncs exist
// only while it is loaded), after crc32c_generic, which its dependency
// libcrc32c needs at init (a soft dependency modules.dep does not list).
var DefaultModules = []string{"veth", "dummy", "xfrm_user", "nfnetlink", "crc32c_generic", "nf_conntrack"}

// DefaultHostTools are copied from the host into the guest's
// /usr/local/sbin (ahead of busybox in PATH), with their shared libraries:
// busybox's ip cannot create veth pairs or network namespaces; tcpdump
// reads the pcap files `xdpchain dump` writes; util-linux's unshare has
// --kill-child, which busybox's lacks; xdp-loader (xdp-tools, libxdp
// linked in) loads programs under libxdp's dispatcher, which the adopt
// tests take over.
var DefaultHostTools = []string{"ip", "bpftool", "tc", "tcpdump", "unshare", "xdp-loader"}

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
