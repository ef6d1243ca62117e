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

func init() { extraCommands = append(extraCommands, newBenchCmd) }

// errTargetMissed is returned by `bench --strict` when a target is missed.
var errTargetMissed = errors.New("benchmark target missed")

func newBenchCmd(env *cliEnv) *cobra.Command {
	var (
		o          bench.Options
		mechanisms []string
		asJSON     bool
		quiet      bool
		strict     bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the dispatcher's cost per packet (BPF_PROG_TEST_RUN)",
		Long: `bench measures ns per packet with BPF_PROG_TEST_RUN (a 64-byte UDP packet)
for a plain program attached directly, the dispatcher with 0..64 no-op
programs (counters on and off), and the same no-ops written as one monolithic
program, all in one run, and prints a markdown table with ratios to the
baselines measured in the same run.

It creates its own network namespace and veth pairs, attaches everything
there and removes it all when done. Linked rows are always measured;
--mechanism freplace adds xdpchain's freplace rows and --libxdp adds rows for
libxdp's dispatcher with the no-op freplace'd into its slots. Rows that need
BPF trampolines are skipped, with the probed reason, where the kernel
refuses them (where the probe says no and setting them up fails).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Mechanisms = []dispatcher.MechanismKind{dispatcher.Linked}
			for _, m := range mechanisms {
				switch m {
				case "linked":
				case "freplace":
					o.Mechanisms = append(o.Mechanisms, dispatcher.Freplace)
				default:
					return fmt.Errorf("--mechanism %q: want linked or freplace", m)
				}
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
	f.IntSliceVar(&o.Counts, "counts", nil, "dispatcher chain lengths (default 0,1,4,16,64; with --libxdp also 10)")
	f.StringSliceVar(&mechanisms, "mechanism", nil, "add rows for this slot mechanism: freplace (linked is always measured)")
	f.StringVar(&o.LibXDP, "libxdp", "", "path of libxdp's xdp-dispatcher.o: add rows for libxdp's dispatcher")
	f.IntSliceVar(&o.LibXDPCounts, "libxdp-counts", nil, "libxdp chain lengths (default 1,4,10)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress lines on stderr")
	f.BoolVar(&strict, "strict", false, "exit non-zero when a target (linked ≤ 1.10 × monolithic, counters < 1 ns per slot) is missed")
	return cmd
}

func writeBench(w io.Writer, res *bench.Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.WriteMarkdown(w)
}
