package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestFormatRate: rates fit their column.
func TestFormatRate(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.01: "<0.1", 0.44: "0.4", 9.94: "9.9", 9.96: "10", 12.4: "12", 999.4: "999", 999.6: "1.00k",
		1234: "1.23k", 9994: "9.99k", 9996: "10.0k", 45678: "45.7k", 99960: "100k", 789e3: "789k",
		999.6e3: "1.00M", 1.234e6: "1.23M", 12.3e9: "12.3G", 1e18: "huge",
	} {
		if got := formatRate(v); got != want {
			t.Errorf("formatRate(%v) = %q, want %q", v, got, want)
		}
	}
	for v := 0.001; v < 1e16; v *= 1.0007 {
		if s := formatRate(v); len(s) > rateWidth {
			t.Fatalf("formatRate(%v) = %q: wider than %d", v, s, rateWidth)
		}
	}
}

// topTestFrame is a frame of two interfaces, one with long names.
func topTestFrame() topFrame {
	r := func(pass, drop, aborted, denied float64) *topRates {
		return &topRates{Pass: pass, Drop: drop, Aborted: aborted, Denied: denied}
	}
	ft := 1500.0
	return topFrame{
		At:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Elapsed: time.Second,
		Interfaces: []topInterface{
			{
				Name: "veth1", NetNS: "blue", Rate: 12345, RateKnown: true, Fallthrough: "pass", FallthroughRate: &ft,
				Programs: []topProgram{
					{Slot: 0, Name: "ratelimit", Owner: "plugin:ratelimit", State: "running", Rates: r(10000, 2345, 0, 0), Share: 1, ShareKnown: true},
					{Slot: 1, Name: "a-program-with-a-very-long-name-indeed", Owner: "config:a-program-with-a-very-long-name-indeed", Rates: r(9000, 0, 500, 500), Share: 0.81, ShareKnown: true},
					{Slot: 2, Name: "fresh", Owner: "user:1000", State: "restarting"},
					{Slot: 3, Name: "dryrun", Owner: "user:0", Shadow: true, Rates: r(1500, 0, 0, 0), Share: 0.12, ShareKnown: true},
				},
			},
			{Name: "eth0", Programs: []topProgram{}, Fallthrough: "pass"},
			{Name: "eth1", Damaged: "DAMAGED: state is unreadable"}, // as rootNote says it
		},
	}
}

// fields returns the row of the program named name (the first field after
// the slot), split at spaces.
func topRow(t *testing.T, screen, name string) []string {
	t.Helper()
	for _, line := range strings.Split(screen, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == name {
			return f
		}
	}
	t.Fatalf("no row of %s in:\n%s", name, screen)
	return nil
}

// TestRenderFrame: a frame is plain text, 80 columns at most, with the
// rates, shares, owners and states of every program.
func TestRenderFrame(t *testing.T) {
	out := renderFrame(topTestFrame(), topView{Width: 80, Interval: time.Second, Sort: sortChain})
	t.Logf("\n%s", out)
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line %d is %d columns: %q", i, n, line)
		}
		if strings.ContainsAny(line, "\x1b\t\r") {
			t.Errorf("line %d has control characters: %q", i, line)
		}
	}
	for _, want := range []string{
		"sort: chain", "rates over 1.00s", "03:04:05",
		"veth1 (netns blue): 12.3k pkt/s, fall-through pass 1.50k/s",
		"eth0: - pkt/s", "no program in the chain", "eth1: DAMAGED: state is unreadable",
		"slot 1: invalid 0/s, denied 500/s (in ABORT): a-program-with-",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the frame", want)
		}
	}
	// #, NAME, OWNER, STATE, PKT/S, SHARE, DROP, PASS, TX, REDIR, ABORT
	// The long name leaves no room for the whole owner.
	if got, want := strings.Join(topRow(t, out, "ratelimit"), " "), "0 ratelimit plugin:rat~ running 12.3k 100% 2.35k 10.0k 0 0 0"; got != want {
		t.Errorf("ratelimit's row: %q, want %q", got, want)
	}
	if got, want := strings.Join(topRow(t, out, "fresh"), " "), "2 fresh user:1000 restarting - - - - - - -"; got != want {
		t.Errorf("a program without rates: %q, want %q", got, want)
	}
	long := topRow(t, out, "a-program-w~")
	if len(long) != 11 || !strings.HasSuffix(long[2], "~") || long[4] != "10.0k" || long[5] != "81%" || long[10] != "1.00k" {
		t.Errorf("the long row: %q", long)
	}
	if f := topRow(t, out, "dryrun"); f[2] != "(shadow)" && !strings.HasPrefix(f[2], "(sh") {
		t.Errorf("a shadow program is not marked: %q", f)
	}

	live := renderFrame(topTestFrame(), topView{Width: 80, Interval: 200 * time.Millisecond, Sort: sortRate, Interactive: true})
	if !strings.Contains(live, "every 200ms - sort: rate (s) - p: profile - q: quit") {
		t.Errorf("live header:\n%s", live)
	}
	// Narrow and wide screens.
	for _, w := range []int{60, 132} {
		for _, line := range strings.Split(renderFrame(topTestFrame(), topView{Width: w}), "\n") {
			if n := utf8.RuneCountInString(line); n > w {
				t.Errorf("width %d: line of %d: %q", w, n, line)
			}
		}
	}
	if wide := renderFrame(topTestFrame(), topView{Width: 200}); !strings.Contains(wide, "a-program-with-a-very-long-name-indeed ") {
		t.Errorf("a wide screen cuts names:\n%s", wide)
	}
}

// TestRenderFrameHeight: a frame taller than the screen ends with how many
// lines it left out, and keeps its header.
func TestRenderFrameHeight(t *testing.T) {
	f := topFrame{At: time.Unix(1, 0), Elapsed: time.Second}
	for i := range 10 {
		f.Interfaces = append(f.Interfaces, topInterface{Name: fmt.Sprintf("veth%d", i), Fallthrough: "pass", Programs: []topProgram{{Name: "p"}}})
	}
	lines := strings.Split(renderFrame(f, topView{Width: 80, Height: 24}), "\n")
	if len(lines) != 24 || !strings.HasPrefix(lines[0], "xdpchain top") || !strings.HasPrefix(lines[23], "(18 more lines") {
		t.Errorf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if n := len(strings.Split(renderFrame(f, topView{}), "\n")); n != 41 {
		t.Errorf("no height limit: %d lines, want 41", n)
	}
}

// TestRenderFrameEmpty: before the first sample, without roots, and with
// an error.
func TestRenderFrameEmpty(t *testing.T) {
	for _, c := range []struct {
		f    topFrame
		err  error
		want string
	}{
		{topFrame{}, nil, "waiting for the first sample"},
		{topFrame{At: time.Unix(1, 0)}, nil, "no interface has an xdpchain root"},
		{topFrame{}, errors.New("not attached\nmore"), "error: not attached (…)"},
	} {
		if out := renderFrame(c.f, topView{Err: c.err}); !strings.Contains(out, c.want) {
			t.Errorf("want %q in:\n%s", c.want, out)
		}
	}
}

// TestSortPrograms: chain order, rate (highest first, programs without a
// rate last), name; ties in chain order.
func TestSortPrograms(t *testing.T) {
	rate := func(v float64) *topRates { return &topRates{Pass: v} }
	ps := []topProgram{
		{Slot: 0, Name: "c", Rates: rate(5)},
		{Slot: 1, Name: "a"},
		{Slot: 2, Name: "b", Rates: rate(9)},
		{Slot: 3, Name: "d", Rates: rate(5)},
	}
	for s, want := range map[topSort]string{sortChain: "cabd", sortRate: "bcda", sortName: "abcd"} {
		var got string
		for _, p := range sortPrograms(ps, s) {
			got += p.Name
		}
		if got != want {
			t.Errorf("sort %s: %s, want %s", s, got, want)
		}
	}
	if ps[0].Name != "c" {
		t.Error("sortPrograms changed its argument")
	}
	for o := range topSorts {
		if got, err := parseTopSort(o.String()); err != nil || got != o {
			t.Errorf("parseTopSort(%q) = %v, %v", o, got, err)
		}
	}
	if _, err := parseTopSort("speed"); !errors.Is(err, errTopUsage) {
		t.Errorf("parseTopSort(speed): %v", err)
	}
}
