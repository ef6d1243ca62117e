package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

var (
	// errTopUsage: a flag of top has a value it cannot use.
	errTopUsage = errors.New("usage")
	// errNotTerminal: the live view needs a terminal.
	errNotTerminal = errors.New("not a terminal")
)

// topRequestTimeout bounds one poll of `xdpchain top`.
const topRequestTimeout = 10 * time.Second

func newTopCmd(env *cliEnv) *cobra.Command {
	var (
		netns, sortBy string
		interval      time.Duration
		once, profile bool
		profSample    uint32
	)
	cmd := &cobra.Command{
		Use:   "top [--netns NS] [IFACE]",
		Short: "Show live packet rates per interface and program",
		Long: `top samples the chains (every interface with a root, or IFACE) every
--interval and shows, per interface and program, packets per second in
total and by verdict (ABORT counts aborted, invalid and denied: all left
as XDP_ABORTED), the program's share of the interface's packets, its owner
and the state of the plugin process behind it (when a daemon answers).

An interface's packets are those its root ran: each packet is counted at
every program it passes through, and every packet passes the first slot,
so the interface's packets/s are the first slot's (not the sum); a
shadow program's share is of the same packets.

--profile (or the key p, which also switches it off) times each program's
body on live traffic, as the profile verb does, and adds a column NS/PKT:
the mean nanoseconds per timed packet over the last interval (--sample N
times one packet in N). While profiling, the chains shown run a generation
with the timing probes; when it is switched off or top exits (or dies) the
plain generation runs again.

Keys: q (or Esc, Ctrl-C) quits, s cycles the sort order (chain, rate,
name), 1, 2, 3 pick one, p switches profiling on and off. --once prints
one frame as plain text (the rates over one --interval) and exits, for
scripts.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			order, err := parseTopSort(sortBy)
			if err != nil {
				return err
			}
			if profSample == 0 {
				return fmt.Errorf("%w: --sample 0: want 1 or more", errTopUsage)
			}
			if interval <= 0 {
				return fmt.Errorf("%w: --interval %s: want a positive duration", errTopUsage, interval)
			}
			itf := statusTarget(netns, args)
			v := topView{Sort: order, Interval: interval}
			var out *os.File
			if !once {
				f, ok := env.stdout.(*os.File)
				if !ok || !isTerminal(f) {
					return fmt.Errorf("%w: standard output (use --once)", errNotTerminal)
				}
				out = f
			}
			// One client for every poll, each with a context of its own:
			// the connect's is for one request.
			c, _, done, err := env.connect()
			if err != nil {
				return err
			}
			defer done()
			prof := newTopProfiler(env, c, profSample)
			defer prof.close()
			if profile {
				prof.toggle()
			}
			sample := func() (topSample, error) {
				ctx, cancel := context.WithTimeout(context.Background(), topRequestTimeout)
				defer cancel()
				st, err := c.Status(ctx, itf)
				if st != nil {
					// A root that cannot be shown says why, as in status.
					for i, note := range env.rootNotes(st.Interfaces) {
						if note != "" {
							st.Interfaces[i].Damaged = note
						}
					}
				}
				ts := topSample{at: time.Now(), status: st}
				if err == nil {
					ts.profiles, ts.profileErrs = prof.read(ctx, st)
					ts.profiling = ts.profiles != nil
				}
				return ts, err
			}
			if once {
				return topOnce(env, sample, v)
			}
			_, err = tea.NewProgram(newTopModel(sample, prof.toggle, v), tea.WithOutput(out)).Run()
			if errors.Is(err, tea.ErrInterrupted) {
				// SIGINT (Ctrl-C when the input is not a terminal) quits.
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&netns, "netns", "", "network namespace of IFACE")
	f.DurationVar(&interval, "interval", time.Second, "time between samples")
	f.BoolVar(&once, "once", false, "print one frame (the rates over one --interval) as plain text and exit")
	f.StringVar(&sortBy, "sort", sortChain.String(), "order of the programs: chain, rate or name")
	f.BoolVar(&profile, "profile", false, "time each program's body (a column NS/PKT) from the start")
	f.Uint32Var(&profSample, "sample", 1, "while profiling, time one packet in N")
	return cmd
}

// topOnce prints the frame of two samples v.Interval apart.
func topOnce(env *cliEnv, sample func() (topSample, error), v topView) error {
	first, err := sample()
	if err != nil {
		return err
	}
	if first.profiling {
		fmt.Fprintf(env.stderr, "profiling for %v (Ctrl-C ends it)\n", v.Interval)
	}
	time.Sleep(v.Interval)
	second, err := sample()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(env.stdout, renderFrame(computeFrame(&first, second), v))
	return err
}

// parseTopSort parses --sort.
func parseTopSort(s string) (topSort, error) {
	for o := range topSorts {
		if o.String() == s {
			return o, nil
		}
	}
	return 0, fmt.Errorf("%w: --sort %q: want chain, rate or name", errTopUsage, s)
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
