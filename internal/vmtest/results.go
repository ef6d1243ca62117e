package vmtest

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PackageResult is one package's outcome on one kernel.
type PackageResult struct {
	Package     string
	BuildFailed bool
	Started     bool
	RC          int // -1 until the guest reported it
	Pass        int // "--- PASS" lines, subtests included
	Fail        int
	Skip        int
	Failed      []string // names of failed tests
	Skipped     []string
	Benchmarks  []string // benchmark result lines
	Duration    time.Duration
	start       time.Time
}

// OK reports whether the package built, ran and exited 0.
func (p *PackageResult) OK() bool { return !p.BuildFailed && p.RC == 0 }

// Status is the package's one-word result for the summary.
func (p *PackageResult) Status() string {
	switch {
	case p.BuildFailed:
		return "BUILD FAIL"
	case !p.Started:
		return "NOT RUN"
	case p.RC < 0:
		return "NO RESULT"
	case p.RC == 0:
		return "ok"
	default:
		return "FAIL rc=" + strconv.Itoa(p.RC)
	}
}

// KernelResult is the outcome of one VM boot.
type KernelResult struct {
	Kernel     *Kernel
	Packages   []*PackageResult
	Booted     bool
	BootTime   time.Duration // host clock, from qemu start to the BOOTED line
	GuestBoot  string        // guest uptime at BOOTED, seconds
	Ready      time.Duration // host clock, from qemu start to READY (payload unpacked, modules loaded)
	GuestReady string        // guest uptime at READY, seconds
	Total      time.Duration // host clock, qemu start to exit
	Done       string        // "ok", "fail", or "" when the line never came
	Setup      []string      // SETUP problems the guest reported
	Oops       []string      // kernel oops/panic/BUG lines, with the package running then
	Err        error         // the harness's own failure: qemu, timeout, preparation
	LogFile    string
	started    time.Time
	current    *PackageResult
	byPackage  map[string]*PackageResult
}

// OK reports whether the kernel passed: the guest printed DONE ok, and
// every expected package built, ran and exited 0.
func (k *KernelResult) OK() bool {
	if k.Err != nil || k.Done != "ok" {
		return false
	}
	for _, p := range k.Packages {
		if !p.OK() {
			return false
		}
	}
	return true
}

func newKernelResult(k *Kernel, pkgs []*TestPackage) *KernelResult {
	r := &KernelResult{Kernel: k, byPackage: map[string]*PackageResult{}}
	for _, p := range pkgs {
		pr := &PackageResult{Package: p.ImportPath, BuildFailed: p.Binary == "", RC: -1}
		r.Packages = append(r.Packages, pr)
		r.byPackage[p.ImportPath] = pr
	}
	return r
}

var (
	markerRE = regexp.MustCompile(regexp.QuoteMeta(Marker) + ` (.*)$`)
	pkgRE    = regexp.MustCompile(`^pkg=(\S+) (start|rc=(-?[0-9]+))`)
	testRE   = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)
	// kernelTroubleRE matches the first lines of a kernel oops, BUG,
	// warning or panic on the console.
	kernelTroubleRE = regexp.MustCompile(`\]\s(Oops:|BUG:|WARNING:|Kernel panic|general protection fault|kernel BUG)`)
	benchRE         = regexp.MustCompile(`^Benchmark\S*\s+[0-9]+\s+.*ns/op`)
)

// feed takes one console line, received at now.
func (k *KernelResult) feed(line string, now time.Time) {
	if m := markerRE.FindStringSubmatch(line); m != nil {
		k.marker(m[1], now)
		return
	}
	if kernelTroubleRE.MatchString(line) && len(k.Oops) < 20 {
		where := "before any package"
		if k.current != nil {
			where = "during " + k.current.Package
		}
		k.Oops = append(k.Oops, strings.TrimSpace(line)+" ("+where+")")
	}
	p := k.current
	if p == nil {
		return
	}
	if m := testRE.FindStringSubmatch(line); m != nil {
		switch m[1] {
		case "PASS":
			p.Pass++
		case "FAIL":
			p.Fail++
			p.Failed = append(p.Failed, m[2])
		case "SKIP":
			p.Skip++
			p.Skipped = append(p.Skipped, m[2])
		}
		return
	}
	if benchRE.MatchString(line) {
		p.Benchmarks = append(p.Benchmarks, strings.TrimSpace(line))
	}
}

func (k *KernelResult) marker(msg string, now time.Time) {
	switch {
	case strings.HasPrefix(msg, "BOOTED"):
		k.Booted = true
		k.BootTime = now.Sub(k.started)
		if _, up, ok := strings.Cut(msg, "uptime="); ok {
			k.GuestBoot = strings.Fields(up)[0]
		}
	case strings.HasPrefix(msg, "READY"):
		k.Ready = now.Sub(k.started)
		if _, up, ok := strings.Cut(msg, "uptime="); ok {
			k.GuestReady = strings.Fields(up)[0]
		}
	case strings.HasPrefix(msg, "SETUP "):
		k.Setup = append(k.Setup, strings.TrimPrefix(msg, "SETUP "))
	case msg == "DONE ok":
		k.Done = "ok"
	case msg == "DONE fail":
		k.Done = "fail"
	default:
		m := pkgRE.FindStringSubmatch(msg)
		if m == nil {
			return
		}
		p := k.byPackage[m[1]]
		if p == nil {
			return // not a package we asked for: ignore
		}
		if m[2] == "start" {
			p.Started = true
			p.start = now
			k.current = p
			return
		}
		p.RC, _ = strconv.Atoi(m[3])
		p.Duration = now.Sub(p.start)
		k.current = nil
	}
}
