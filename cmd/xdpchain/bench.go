package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/bench"
)

// errTargetMissed is returned by `bench --strict` when a target is missed.
var errTargetMissed = errors.New("benchmark target missed")

func newBenchCmd(env *cliEnv) *cobra.Command {
	var (
		o            bench.Options
		mechanisms   []string
		asJSON       bool
		quiet        bool
		strict       bool
		swapPrograms int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the dispatcher's cost per packet (BPF_PROG_TEST_RUN)",
		Long: `bench measures ns per packet with BPF_PROG_TEST_RUN (a 64-byte UDP packet),
all in one run, for every test program (--program: noop, which returns
XDP_PASS, and udp, which parses Ethernet/IPv4/UDP and compares the
destination port), one phase each:

  plain               the program alone, attached directly
  monolithic N        one program calling N bodies as subprograms
  monolithic-inline N the N bodies back to back in one program
  tailcall N          N programs chained by constant-key tail calls
                      (L3AF/Katran style; the kernel allows 33 tail calls,
                      so N ≤ 34)
  MECHANISM N         xdpchain's dispatcher with N copies of the program,
                      counters on and off, for every --mechanism
  libxdp N            libxdp's dispatcher (with --libxdp)

and prints a markdown table with ratios to the baselines of the same run and
program, then the time one Update takes to swap a changed 64-program
generation in, per mechanism.

It creates its own network namespace and veth pairs, attaches everything
there and removes it all when done. Rows that need BPF trampolines
(freplace, libxdp) are skipped, with the probed reason, where the kernel
refuses them (where the probe says no and setting them up fails).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Mechanisms = nil
			for _, m := range mechanisms {
				k, err := parseBenchMechanism(m)
				if err != nil {
					return err
				}
				o.Mechanisms = append(o.Mechanisms, k)
			}
			if swapPrograms == 0 {
				o.SwapPrograms = -1
			} else {
				o.SwapPrograms = swapPrograms
			}
			// Unless told otherwise, the run keeps its pins and state in
			// a temporary bpffs and directory of its own.
			if f := cmd.Flag("bpffs"); f != nil && f.Changed {
				o.BPFFS = env.bpffs
			}
			if f := cmd.Flag("state-dir"); f != nil && f.Changed {
				o.StateDir = env.state
			}
			if !quiet {
				o.Progress = env.stderr
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := bench.Run(ctx, &o)
			if err != nil {
				return err
			}
			if err := writeBench(env.stdout, res, asJSON); err != nil {
				return err
			}
			if failed := res.Failed(); strict && len(failed) > 0 {
				return fmt.Errorf("%w: %s = %.3f, wanted %s (and %d more)", errTargetMissed, failed[0].Name, failed[0].Value, failed[0].Target, len(failed)-1)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Repeat, "repeat", bench.DefaultRepeat, "BPF_PROG_TEST_RUN repeat count per measurement")
	f.IntVar(&o.Rounds, "rounds", bench.DefaultRounds, "measurements per configuration (the table shows the median)")
	f.IntSliceVar(&o.Counts, "counts", nil, "chain lengths (default 0,1,4,10,16,64)")
	f.StringSliceVar(&o.Programs, "program", nil, "test programs every row runs: noop, udp (default both, one phase each)")
	f.StringSliceVar(&mechanisms, "mechanism", nil, "slot mechanisms measured: linked, inline, freplace (default linked,inline)")
	f.IntVar(&swapPrograms, "swap-programs", bench.DefaultSwapPrograms, "chain length of the generation swap timing (0: none)")
	f.StringVar(&o.LibXDP, "libxdp", "", "path of libxdp's xdp-dispatcher.o: add rows for libxdp's dispatcher")
	f.IntSliceVar(&o.LibXDPCounts, "libxdp-counts", nil, "libxdp chain lengths (default 1,4,10)")
	f.IntSliceVar(&o.ObservedCounts, "observed-counts", nil, "chain lengths measured observed: profiled every packet and 1/1000, a dump armed that matches nothing (default 10,64; only those in --counts)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress lines on stderr")
	f.BoolVar(&strict, "strict", false, "exit non-zero when a target is missed (linked ≤ 1.10 × monolithic, counters < 1 ns per slot; inline: counters on ≤ 1.25 × back-to-back at 10 and 64 and ≤ 1.25 × tail calls at 10, counters off ≤ 1.10 × tail calls at 10)")
	return cmd
}

// parseBenchMechanism parses a --mechanism value: a slot mechanism, not
// auto (a row must say what it measured).
func parseBenchMechanism(s string) (dispatcher.MechanismKind, error) {
	k, err := dispatcher.ParseMechanism(s)
	if err != nil || k == dispatcher.AutoMechanism {
		return "", fmt.Errorf("--mechanism %q: want linked, inline or freplace", s)
	}
	return k, nil
}

func writeBench(w io.Writer, res *bench.Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.WriteMarkdown(w)
}
