package vmtest

import (
	"strings"
	"testing"
	"time"
)

const transcript = `SeaBIOS (version 1.16.2-debian-1.16.2-1)
Booting from ROM..XDPCHAIN-VM: BOOTED kernel=6.12.117+deb12-amd64 uptime=2.71
XDPCHAIN-VM: READY env=vm:6.12.117+deb12-amd64 uptime=2.93
XDPCHAIN-VM: pkg=example.com/m/a start
=== RUN   TestOne
--- PASS: TestOne (0.00s)
=== RUN   TestTwo
=== RUN   TestTwo/sub
    --- SKIP: TestTwo/sub (0.00s)
--- PASS: TestTwo (0.00s)
BenchmarkX-2   	    1000	      1234 ns/op
PASS
XDPCHAIN-VM: pkg=example.com/m/a rc=0 uptime=3.10
--- FAIL: TestOutsideAPackage (0.00s)
XDPCHAIN-VM: pkg=example.com/m/b start
[  101.288504] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI
=== RUN   TestThree
    x_test.go:1: boom
--- FAIL: TestThree (0.00s)
FAIL
XDPCHAIN-VM: pkg=example.com/m/b rc=1 uptime=3.50
XDPCHAIN-VM: pkg=example.com/other start
XDPCHAIN-VM: pkg=example.com/other rc=0 uptime=3.50
XDPCHAIN-VM: DONE fail
[    3.672114] reboot: Power down
`

func feedTranscript(r *KernelResult, s string) {
	now := time.Unix(100, 0)
	r.started = now
	for _, line := range strings.Split(s, "\n") {
		now = now.Add(time.Second)
		r.feed(line, now)
	}
}

func TestKernelResultParse(t *testing.T) {
	pkgs := []*TestPackage{
		{ImportPath: "example.com/m/a", Binary: "a.test"},
		{ImportPath: "example.com/m/b", Binary: "b.test"},
		{ImportPath: "example.com/m/c"}, // build failed
	}
	r := newKernelResult(&Kernel{Name: "6.12"}, pkgs)
	feedTranscript(r, transcript)

	if !r.Booted || r.GuestBoot != "2.71" || r.BootTime != 2*time.Second {
		t.Errorf("boot: booted %v, guest %q, host %s", r.Booted, r.GuestBoot, r.BootTime)
	}
	if r.Ready != 3*time.Second || r.GuestReady != "2.93" {
		t.Errorf("ready: host %s, guest %q", r.Ready, r.GuestReady)
	}
	if len(r.Oops) != 1 || r.Oops[0] != "[  101.288504] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI (during example.com/m/b)" {
		t.Errorf("kernel trouble: %q", r.Oops)
	}
	if r.Done != "fail" {
		t.Errorf("done %q, want fail", r.Done)
	}
	a, b, c := r.Packages[0], r.Packages[1], r.Packages[2]
	if a.RC != 0 || a.Pass != 2 || a.Skip != 1 || a.Fail != 0 || !a.OK() || a.Status() != "ok" {
		t.Errorf("a: %+v", a)
	}
	if len(a.Benchmarks) != 1 || !strings.HasPrefix(a.Benchmarks[0], "BenchmarkX-2") {
		t.Errorf("a benchmarks: %q", a.Benchmarks)
	}
	if a.Duration != 9*time.Second {
		t.Errorf("a took %s, want 9s", a.Duration)
	}
	if b.RC != 1 || b.Fail != 1 || b.Failed[0] != "TestThree" || b.OK() || b.Status() != "FAIL rc=1" {
		t.Errorf("b: %+v", b)
	}
	if !c.BuildFailed || c.Started || c.OK() || c.Status() != "BUILD FAIL" {
		t.Errorf("c: %+v", c)
	}
	if r.OK() {
		t.Error("kernel with failures reported OK")
	}
}

func TestKernelResultOK(t *testing.T) {
	pkgs := []*TestPackage{{ImportPath: "example.com/m/a", Binary: "a.test"}}
	ok := "XDPCHAIN-VM: BOOTED kernel=x uptime=1\nXDPCHAIN-VM: pkg=example.com/m/a start\n--- PASS: T (0s)\n" +
		"XDPCHAIN-VM: pkg=example.com/m/a rc=0 uptime=2\nXDPCHAIN-VM: DONE ok\n"
	for _, tc := range []struct {
		name string
		out  string
		want bool
	}{
		{"all good", ok, true},
		{"no DONE line", strings.TrimSuffix(ok, "XDPCHAIN-VM: DONE ok\n"), false},
		{"DONE ok but package never reported", "XDPCHAIN-VM: BOOTED kernel=x uptime=1\nXDPCHAIN-VM: DONE ok\n", false},
		{"DONE ok but package crashed", strings.Replace(ok, "rc=0", "rc=2", 1), false},
		{"DONE line only inside test output", "XDPCHAIN-VM: pkg=example.com/m/a start\n    x_test.go:1: XDPCHAIN-VM: DONE okay\n", false},
	} {
		r := newKernelResult(&Kernel{Name: "k"}, pkgs)
		feedTranscript(r, tc.out)
		if got := r.OK(); got != tc.want {
			t.Errorf("%s: OK() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
