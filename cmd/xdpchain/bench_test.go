package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/bench"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestBench runs a tiny benchmark of the udp program (plain, monolithic 1
// and its inline variant, the tail-call chain of 1, linked and inline 0 and
// 1 with counters on and off, a 2-program swap timing) through the CLI: the
// markdown table, the JSON form, and --strict agreeing with the checks.
func TestBench(t *testing.T) {
	testutil.RequireRoot(t)
	small := []string{"bench", "--repeat", "10000", "--rounds", "1", "--counts", "0,1", "--program", "udp", "--swap-programs", "2", "-q"}

	code, out, errOut := runCLI(t, small...)
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, errOut)
	}
	for _, s := range []string{
		"| configuration | program | programs |", "| plain | udp | 1 |", "| monolithic | udp | 1 |", "| tailcall | udp | 1 |",
		"| linked | udp | 1 | on |", "| linked | udp | 0 | off |", "| inline | udp | 1 | off |", "| target |",
		"Swap in a changed 2-program generation (udp chain",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("bench output lacks %q:\n%s", s, out)
		}
	}
	if errOut != "" {
		t.Errorf("bench -q wrote to stderr: %s", errOut)
	}

	code, out, errOut = runCLI(t, append(small, "--json", "--strict")...)
	var res bench.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if len(res.Rows) != 12 || res.Repeat != 10000 || res.Rounds != 1 {
		t.Errorf("bench --json: %d rows, repeat %d, rounds %d; want 12, 10000, 1", len(res.Rows), res.Repeat, res.Rounds)
	}
	if len(res.Swaps) != 2 || res.Swaps[0].Mechanism != bench.Linked || res.Swaps[1].Mechanism != bench.Inline || res.Swaps[1].Median <= 0 {
		t.Errorf("bench --json: swaps %+v, want linked and inline timed", res.Swaps)
	}
	wantCode := 0
	if len(res.Failed()) > 0 {
		wantCode = 1
		if !strings.Contains(errOut, "benchmark target missed") {
			t.Errorf("bench --strict with missed targets: stderr %q", errOut)
		}
	}
	if code != wantCode {
		t.Errorf("bench --strict: exit %d with %d missed targets, want %d", code, len(res.Failed()), wantCode)
	}
}

// TestBenchVeth runs a tiny veth path benchmark through the CLI: --program
// and --veth-programs reach it (one noop phase, 1 + 1 programs, with its
// back-to-back row), and --strict agrees with the checks.
func TestBenchVeth(t *testing.T) {
	testutil.RequireRoot(t)
	code, out, errOut := runCLI(t, "bench", "--path", "veth", "--program", "noop", "--veth-programs", "1", "--mechanism", "inline",
		"--rounds", "1", "--veth-window", "20ms", "-q", "--json", "--strict")
	var res bench.VethResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --path veth --json: %v (exit %d, stderr %s)\n%s", err, code, errOut, out)
	}
	var rows []string
	for _, r := range res.Rows {
		rows = append(rows, fmt.Sprintf("%s %s %d", r.Kind, r.Program, r.Programs))
		if r.Skipped != "" || len(r.Mpps) != 1 || r.VsBackToBack <= 0 {
			t.Errorf("row %+v: want measured once, with its ratio to back-to-back", r)
		}
	}
	if want := "plain noop 1,monolithic-inline noop 2,tailcall noop 2,inline noop 2"; strings.Join(rows, ",") != want {
		t.Errorf("rows %s, want %s", strings.Join(rows, ","), want)
	}
	wantCode := 0
	if len(res.Failed()) > 0 {
		wantCode = 1
		if !strings.Contains(errOut, "benchmark target missed") {
			t.Errorf("bench --strict with missed targets: stderr %q", errOut)
		}
	}
	if code != wantCode || len(res.Checks) != 2 {
		t.Errorf("bench --strict: exit %d with %d checks, %d missed; want exit %d and 2 checks", code, len(res.Checks), len(res.Failed()), wantCode)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--mechanism", "bogus"},
		{"bench", "--mechanism", "auto"},
		{"bench", "--program", "counter"},
		{"bench", "--swap-programs", "65"},
		{"bench", "--counts", "65"},
		{"bench", "--libxdp-counts", "11"},
		{"bench", "extra"},
		{"bench", "--path", "veth", "--program", "counter"},
		{"bench", "--path", "veth", "--veth-programs", "64"},
	} {
		if code, _, errOut := runCLI(t, args...); code == 0 || !strings.HasPrefix(errOut, "xdpchain: ") {
			t.Errorf("%v: exit %d, stderr %q; want a one-line error", args, code, errOut)
		}
	}
}
