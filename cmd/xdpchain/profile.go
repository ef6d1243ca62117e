package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// profileDoc is the JSON document of `profile --json`.
type profileDoc struct {
	Interface string  `json:"interface"`
	Duration  float64 `json:"duration_s"`
	*dispatcher.Profile
}

func newProfileCmd(env *cliEnv) *cobra.Command {
	var (
		netns    string
		duration time.Duration
		programs []string
		sample   uint32
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "profile [--netns NS] [--duration D] [--program NAME]... [--sample N] [--json] IFACE",
		Short: "Measure the time each program of the chain costs per packet, on live traffic",
		Long: `profile times each program's body on live traffic for --duration (or until
Ctrl-C) and prints, per program, the packets timed, the mean nanoseconds
per packet and the 50th and 99th percentiles (from log2 buckets, linear
within one), and the root's own time between slots. --sample N times one
packet in N, to bound what the probe itself costs: each timed packet at one
program drawn at random (two clock reads and a histogram update), or at
every program and the root's gaps once in (programs + 1), so PACKETS is the
packets each program was timed on.

While it runs the chain runs a generation with the timing probes; when it
ends (or dies) the plain generation runs again. Verdicts, counters and maps
are the same as unprofiled.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if duration <= 0 {
				return fmt.Errorf("%w: --duration %v: give a positive duration", dispatcher.ErrInvalid, duration)
			}
			p := dispatcher.Probe{Kind: dispatcher.ProbeProfile, Programs: programs, Sample: sample}
			o, err := env.observe(cmd, netns, args[0], p, duration)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stderr, "profiling %s for %v (Ctrl-C to stop early)\n", args[0], duration)
			start := time.Now()
			<-o.ctx.Done()
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			prof, err := o.Profile(ctx)
			if eerr := o.end(); err == nil {
				err = eerr
			}
			if err != nil {
				return err
			}
			doc := profileDoc{Interface: args[0], Duration: time.Since(start).Seconds(), Profile: prof}
			if asJSON {
				enc := json.NewEncoder(env.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(doc)
			}
			printProfile(env, doc)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&netns, "netns", "", "network namespace of IFACE")
	f.DurationVar(&duration, "duration", 10*time.Second, "how long to profile")
	f.StringSliceVar(&programs, "program", nil, "time only this program (repeatable; default all)")
	f.Uint32Var(&sample, "sample", 1, "time one packet in N")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printProfile(env *cliEnv, doc profileDoc) {
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SLOT\tPROGRAM\tPACKETS\tNS/PKT\tP50\tP99\t")
	row := func(slot string, p dispatcher.ProgramProfile) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t\n", slot, p.Name, p.Packets, p.NsPerPacket, p.P50, p.P99)
	}
	for _, p := range doc.Programs {
		row(fmt.Sprint(p.Slot), p)
	}
	row("-", doc.Root)
	tw.Flush()
	spread := ""
	if doc.Sample > 1 && doc.OneCopy == "" {
		spread = ", each at one program or at all"
	}
	fmt.Fprintf(env.stdout, "%s, %.1f s, one packet in %d timed%s; the root's time is from its start to the first slot and between slots\n", doc.Interface, doc.Duration, doc.Sample, spread)
	if doc.OneCopy != "" {
		fmt.Fprintf(env.stdout, "Note: the root holds one copy of the chain (%s): every packet pays a sample check at each timed slot\n", doc.OneCopy)
	}
}
