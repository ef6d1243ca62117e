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
	"time"

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
		path         string
		vethPrograms int
		vethWindow   time.Duration
		many         bench.ManyOptions
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

With --path veth it measures the real receive path instead: per
configuration a veth pair in native XDP mode, the configuration on one end
(the final program, which returns XDP_TX, alone; --veth-programs test
programs (--program, one phase each) and the final one's body merged back
to back into one program; the same programs chained by literal-key tail
calls; and in xdpchain's dispatcher, per --mechanism, counters on), a
reflector on the other that sends every frame back with XDP_TX; 64 frames
injected once through an AF_PACKET socket circulate between the two ends,
and the rate is counted over --veth-window, round robin over --rounds
rounds. It prints each configuration's rate and its ratios to the final
program alone and to the back-to-back program.

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
			switch path {
			case "test-run":
			case "veth":
				return runVethBench(ctx, env, &bench.VethOptions{
					Count: vethPrograms, Programs: o.Programs, Mechanisms: o.Mechanisms, Rounds: o.Rounds, Window: vethWindow,
					BPFFS: o.BPFFS, StateDir: o.StateDir, Progress: o.Progress,
				}, asJSON, strict)
			case "interfaces":
				if many.Bin == "" {
					exe, err := os.Executable()
					if err != nil {
						return err
					}
					many.Bin = exe
				}
				many.Progress = o.Progress
				return runManyBench(ctx, env, many, asJSON, strict)
			default:
				return fmt.Errorf("--path %q: want test-run, veth or interfaces", path)
			}
			res, err := bench.Run(ctx, &o)
			if err != nil {
				return err
			}
			return printBench(env, res, res.WriteMarkdown, res.Failed(), asJSON, strict)
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
	f.StringVar(&path, "path", "test-run", "what is measured: test-run (ns per packet, BPF_PROG_TEST_RUN), veth (frames circulating by XDP_TX on veth pairs, native XDP), interfaces (the daemon with one glob over many interfaces)")
	f.IntVar(&many.Interfaces, "interfaces", bench.DefaultManyInterfaces, "--path interfaces: veths the glob matches")
	f.IntVar(&many.Programs, "interface-programs", bench.DefaultManyPrograms, "--path interfaces: programs from the config on each")
	f.StringVar(&many.Bin, "daemon-bin", "", "--path interfaces: the xdpchain binary to run as the daemon (default: this one), to compare builds")
	f.DurationVar(&many.IdleWindow, "idle-window", bench.DefaultIdleWindow, "--path interfaces: how long the idle daemon's CPU time is measured (0: not)")
	f.IntVar(&vethPrograms, "veth-programs", bench.DefaultVethCount, "--path veth: test programs (--program) before the final XDP_TX program")
	f.DurationVar(&vethWindow, "veth-window", bench.DefaultVethWindow, "--path veth: how long one measurement counts")
	f.IntSliceVar(&o.ObservedCounts, "observed-counts", nil, "chain lengths measured observed: profiled every packet, 1/1000 and 1/2^30 (the unsampled path), a dump armed that matches nothing (default 10,64; only those in --counts)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress lines on stderr")
	f.BoolVar(&strict, "strict", false, "exit non-zero when a target is missed (linked ≤ 1.10 × monolithic, counters < 1 ns per slot; inline, counters on: ≤ 1.05 × back-to-back at 10 and ≤ 1.10 at 64, ≤ 1.0 × the tail-call chain at 10 and 16, counting ≤ 0.1 ns per slot at 64; --path veth: inline ≥ 0.90 × the final program alone and × back-to-back)")
	return cmd
}

// parseBenchMechanism parses a --mechanism value: a slot mechanism, not
// auto (a row must say what it measured).
func parseBenchMechanism(s string) (dispatcher.Mechanism, error) {
	k, err := dispatcher.ParseMechanism(s)
	if err != nil || k == dispatcher.AutoMechanism {
		return "", fmt.Errorf("--mechanism %q: want linked, inline or freplace", s)
	}
	return k, nil
}

// runManyBench runs and prints the many-interfaces benchmark.
func runManyBench(ctx context.Context, env *cliEnv, o bench.ManyOptions, asJSON, strict bool) error {
	res, err := bench.RunMany(ctx, o)
	if err != nil {
		return err
	}
	return printBench(env, res, res.WriteMarkdown, res.Failed(), asJSON, strict)
}

// runVethBench runs and prints the veth path benchmark.
func runVethBench(ctx context.Context, env *cliEnv, o *bench.VethOptions, asJSON, strict bool) error {
	res, err := bench.RunVeth(ctx, o)
	if err != nil {
		return err
	}
	return printBench(env, res, res.WriteMarkdown, res.Failed(), asJSON, strict)
}

// printBench prints a result as JSON or markdown; with strict, a missed
// target is an error.
func printBench(env *cliEnv, res any, markdown func(io.Writer) error, failed []bench.Check, asJSON, strict bool) error {
	var err error
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = markdown(env.stdout)
	}
	if err != nil {
		return err
	}
	if strict && len(failed) > 0 {
		return fmt.Errorf("%w: %s = %.3f, wanted %s (and %d more)", errTargetMissed, failed[0].Name, failed[0].Value, failed[0].Target, len(failed)-1)
	}
	return nil
}
