package vmtest

import (
	"regexp"
	"strings"
	"testing"
)

func TestReportErr(t *testing.T) {
	pkgs := []*TestPackage{{ImportPath: "example.com/m/a", Binary: "a.test"}}
	r := newKernelResult(&Kernel{Name: "k"}, pkgs)
	feedTranscript(r, "XDPCHAIN-VM: pkg=example.com/m/a start\nXDPCHAIN-VM: pkg=example.com/m/a rc=0 uptime=2\nXDPCHAIN-VM: DONE ok\n")
	rep := &Report{Packages: pkgs, Kernels: []*KernelResult{r}}
	if err := rep.Err(); err != nil {
		t.Fatalf("passing report: %v", err)
	}
	rep.Packages = append(rep.Packages, &TestPackage{ImportPath: "example.com/m/broken"})
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "build of example.com/m/broken") {
		t.Fatalf("report with a build failure: %v", err)
	}
	if err := (&Report{}).Err(); err == nil {
		t.Fatal("report without kernels passed")
	}
}

func TestWriteSummary(t *testing.T) {
	pkgs := []*TestPackage{{ImportPath: "example.com/m/a", Binary: "a.test"}, {ImportPath: "example.com/m/b", Binary: "b.test"}}
	r := newKernelResult(&Kernel{Name: "6.1", Package: "linux-image-6.1.0-1-amd64", Release: "6.1.0-1-amd64"}, pkgs)
	feedTranscript(r, strings.ReplaceAll(transcript, "DONE fail", "DONE ok"))
	var sb strings.Builder
	(&Report{Module: "example.com/m", Packages: pkgs, Kernels: []*KernelResult{r}}).WriteSummary(&sb)
	out := sb.String()
	if !regexp.MustCompile(`(?m)^6\.1\s+\./a\s+ok\s+2\s+0\s+1\s+9s`).MatchString(out) {
		t.Errorf("summary lacks the row of ./a:\n%s", out)
	}
	for _, want := range []string{
		"FAIL ./b TestThree",
		"SKIP ./a TestTwo/sub",
		"BENCH ./a BenchmarkX-2",
		"DONE ok: FAIL",
		"\nvmtest: 2 passed, 1 failed, 1 skipped\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
