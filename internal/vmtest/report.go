package vmtest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// ErrFailed is returned by Report.Err when any kernel or package failed.
var ErrFailed = errors.New("vmtest failed")

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
