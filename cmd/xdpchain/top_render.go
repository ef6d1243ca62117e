package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// topSort is the order of the programs of each interface in `xdpchain
// top`.
type topSort int

const (
	sortChain topSort = iota // slot order
	sortRate                 // packets/s, highest first
	sortName                 // program name
	topSorts                 // the number of orders
)

func (s topSort) String() string {
	switch s {
	case sortRate:
		return "rate"
	case sortName:
		return "name"
	default:
		return "chain"
	}
}

// sortPrograms returns the programs in order s (ties in slot order).
func sortPrograms(ps []topProgram, s topSort) []topProgram {
	out := slices.Clone(ps)
	rate := func(p topProgram) float64 {
		if p.Rates == nil {
			return -1
		}
		return p.Rates.Total()
	}
	slices.SortStableFunc(out, func(a, b topProgram) int {
		switch s {
		case sortRate:
			if ra, rb := rate(a), rate(b); ra != rb {
				if ra > rb {
					return -1
				}
				return 1
			}
		case sortName:
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
		}
		return a.Slot - b.Slot
	})
	return out
}

// topView is how a frame is drawn.
type topView struct {
	// Width is the screen's columns (0: 80); Height its lines (0: no
	// limit, as --once prints).
	Width, Height int
	Sort          topSort
	// Interval is the time between samples; Interactive adds the keys to
	// the header.
	Interval    time.Duration
	Interactive bool
	// Err is the last poll's error, shown under the header.
	Err error
}

// topWidth is the width of a frame when the screen's is unknown.
const topWidth = 80

// Columns of a program row: the slot, then name, owner and state (their
// widths fit the screen), then the rates.
const (
	slotWidth = 2
	rateWidth = 5 // formatRate's longest
	// rateColumns are PKT/S, SHARE, DROP, PASS, TX, REDIR, ABORT.
	rateColumns = 7
	// nsWidth is the NS/PKT column's (profiling on).
	nsWidth = len("NS/PKT")
)

// renderFrame draws a frame as plain text (no escape codes), lines at most
// v.Width columns, at most v.Height lines.
func renderFrame(f topFrame, v topView) string {
	width := v.Width
	if width <= 0 {
		width = topWidth
	}
	var lines []string
	add := func(format string, a ...any) { lines = append(lines, truncate(fmt.Sprintf(format, a...), width)) }

	// The header names the active sort (and, live, the keys).
	head := fmt.Sprintf("xdpchain top - rates over %.2fs - sort: %s", f.Elapsed.Seconds(), v.Sort)
	if v.Interactive {
		head = fmt.Sprintf("xdpchain top - every %s - sort: %s (s) - p: profile - q: quit", v.Interval, v.Sort)
	}
	if !f.At.IsZero() {
		head += " - " + f.At.Format(time.TimeOnly)
	}
	add("%s", head)
	if v.Err != nil {
		add("error: %s", oneLine(v.Err.Error()))
	}
	if len(f.Interfaces) == 0 && v.Err == nil {
		if f.At.IsZero() {
			add("waiting for the first sample...")
		} else {
			add("no interface has an xdpchain root")
		}
	}
	cols := fitColumns(f, width)
	if f.Profiling {
		add("profiling: NS/PKT is the mean time of a program's body per timed packet")
	}
	for _, itf := range f.Interfaces {
		add("")
		name := itf.Name
		if itf.NetNS != "" {
			name += " (netns " + itf.NetNS + ")"
		}
		if itf.Damaged != "" {
			add("%s: %s", name, itf.Damaged)
			continue
		}
		rate, ft := "-", "-"
		if itf.RateKnown {
			rate = formatRate(itf.Rate)
		}
		if itf.FallthroughRate != nil {
			ft = formatRate(*itf.FallthroughRate)
		}
		add("%s: %s pkt/s, fall-through %s %s/s", name, rate, itf.Fallthrough, ft)
		if len(itf.Programs) == 0 {
			add("  no program in the chain")
			continue
		}
		if itf.ProfileErr != "" {
			add("  not profiled: %s", itf.ProfileErr)
		}
		add("%s", cols.row("#", "NAME", "OWNER", "STATE", []string{"PKT/S", "SHARE", "DROP", "PASS", "TX", "REDIR", "ABORT"}, profileCell(f, "NS/PKT")))
		var notes []string
		for _, p := range sortPrograms(itf.Programs, v.Sort) {
			name, owner, state := p.Name, p.Owner, p.State
			if p.Shadow {
				name += " (shadow)"
			}
			if owner == "" {
				owner = "-"
			}
			if state == "" {
				state = "-"
			}
			nums := slices.Repeat([]string{"-"}, rateColumns)
			if r := p.Rates; r != nil {
				nums = []string{formatRate(r.Total()), "-", formatRate(r.Drop), formatRate(r.Pass), formatRate(r.TX), formatRate(r.Redirect), formatRate(r.Abort())}
				if p.ShareKnown {
					nums[1] = fmt.Sprintf("%.0f%%", 100*p.Share)
				}
				if r.Invalid > 0 || r.Denied > 0 {
					notes = append(notes, fmt.Sprintf("  slot %d: invalid %s/s, denied %s/s (in ABORT): %s", p.Slot, formatRate(r.Invalid), formatRate(r.Denied), p.Name))
				}
			}
			ns := "-"
			if p.Ns != nil {
				ns = formatRate(*p.Ns)
			}
			add("%s", cols.row(strconv.Itoa(p.Slot), name, owner, state, nums, profileCell(f, ns)))
		}
		for _, n := range notes {
			add("%s", n)
		}
	}
	if v.Height > 0 && len(lines) > v.Height {
		more := len(lines) - v.Height + 1
		lines = append(lines[:v.Height-1], truncate(fmt.Sprintf("(%d more lines: a taller terminal, or name an IFACE)", more), width))
	}
	return strings.Join(lines, "\n")
}

// topColumns are the widths of the name, owner and state columns.
type topColumns struct{ name, owner, state int }

// fitColumns sizes the name, owner and state columns to their longest
// entry and shrinks them, in steps, for a row to fit width: owner to 12;
// the wider of name and owner to 12 and 10; state to 7; the wider of name
// and owner to 8 and 6; state to 5. Below that, rows are cut at width.
func fitColumns(f topFrame, width int) topColumns {
	c := topColumns{name: len("NAME"), owner: len("OWNER"), state: len("STATE")}
	for _, itf := range f.Interfaces {
		for _, p := range itf.Programs {
			n := len(p.Name)
			if p.Shadow {
				n += len(" (shadow)")
			}
			c.name, c.owner, c.state = max(c.name, n), max(c.owner, len(p.Owner)), max(c.state, len(p.State))
		}
	}
	// One space between columns.
	avail := width - slotWidth - rateColumns*rateWidth - (3 + rateColumns)
	if f.Profiling {
		avail -= 1 + nsWidth
	}
	type col struct {
		w   *int
		min int
	}
	for _, step := range [][]col{
		{{&c.owner, 12}},
		{{&c.name, 12}, {&c.owner, 10}},
		{{&c.state, 7}},
		{{&c.name, 8}, {&c.owner, 6}},
		{{&c.state, len("STATE")}},
	} {
		for c.name+c.owner+c.state > avail {
			// The widest column above its minimum loses one.
			var widest *col
			for i := range step {
				if k := &step[i]; *k.w > k.min && (widest == nil || *k.w > *widest.w) {
					widest = k
				}
			}
			if widest == nil {
				break
			}
			*widest.w--
		}
	}
	return c
}

// row lays out one program row: text columns left-aligned and cut to
// their widths, numbers right-aligned, then the NS/PKT cell if ns is not
// nil.
func (c topColumns) row(slot, name, owner, state string, nums []string, ns *string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%*s %-*s %-*s %-*s", slotWidth, slot, c.name, truncate(name, c.name), c.owner, truncate(owner, c.owner), c.state, truncate(state, c.state))
	for _, n := range nums {
		fmt.Fprintf(&b, " %*s", rateWidth, n)
	}
	if ns != nil {
		fmt.Fprintf(&b, " %*s", nsWidth, *ns)
	}
	return b.String()
}

// profileCell is a row's NS/PKT cell: s when the frame profiles, else none.
func profileCell(f topFrame, s string) *string {
	if !f.Profiling {
		return nil
	}
	return &s
}

// truncate cuts s to n columns, marking the cut with '~' (ASCII: the view
// must work in any terminal).
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:max(n, 0)])
	}
	return string(r[:n-1]) + "~"
}

// formatRate prints packets per second in at most rateWidth characters:
// 0, 0.4, 12, 999, 1.23k, 45.6k, 789k, 1.23M, ...
func formatRate(v float64) string {
	switch {
	case v <= 0:
		return "0"
	case v < 0.05:
		return "<0.1"
	case v < 9.95:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v < 999.5:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	for _, unit := range []string{"k", "M", "G", "T"} {
		v /= 1000
		switch {
		case v < 9.995:
			return strconv.FormatFloat(v, 'f', 2, 64) + unit
		case v < 99.95:
			return strconv.FormatFloat(v, 'f', 1, 64) + unit
		case v < 999.5:
			return strconv.FormatFloat(v, 'f', 0, 64) + unit
		}
	}
	return "huge"
}
