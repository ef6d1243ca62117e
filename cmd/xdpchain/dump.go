package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/dispatcher"
)

func newDumpCmd(env *cliEnv) *cobra.Command {
	var (
		netns, program, at, verdicts, write string
		count                               int
		duration                            time.Duration
		snaplen                             uint32
	)
	cmd := &cobra.Command{
		Use:   "dump [--netns NS] IFACE [--program NAME [--at input|output] [--verdict V,...]] [-c COUNT] [--duration D] [--snaplen N] -w FILE|-",
		Short: "Capture the packets entering or leaving one program of the chain, as pcap",
		Long: `dump captures live packets inside the chain: those entering a program
(--at input) or leaving it with the verdicts asked for (--at output, the
default; --verdict drop,pass,...), or, without --program, those entering the
chain. It writes pcap (Ethernet) to a file or, with -w -, to stdout, so that
"xdpchain dump ... -w - | tcpdump -r -" works.

While it runs the chain runs a generation with the capture's probe; when it
ends (-c, --duration, Ctrl-C, or its death) the plain generation runs again.
Verdicts, counters and maps are the same as unobserved. Packets the
capture's buffer had no room for are dropped from the capture, never from
the chain; dump reports how many.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if write == "" {
				return fmt.Errorf("%w: give -w FILE.pcap, or -w - for stdout", dispatcher.ErrInvalid)
			}
			if count < 0 {
				return fmt.Errorf("%w: -c %d is negative", dispatcher.ErrInvalid, count)
			}
			p := dispatcher.Probe{Kind: dispatcher.ProbeCapture, Program: program, At: dispatcher.CapturePoint(at), Snaplen: snaplen}
			if verdicts != "" {
				set, err := dispatcher.ParseVerdictSet(verdicts)
				if err != nil {
					return fmt.Errorf("--verdict: %w", err)
				}
				p.Verdicts = set
			}
			if program == "" && cmd.Flags().Changed("at") {
				return fmt.Errorf("%w: --at needs --program (without it, dump captures the chain's input)", dispatcher.ErrInvalid)
			}
			o, err := env.observe(cmd, netns, args[0], p, duration)
			if err != nil {
				return err
			}
			// The file is created once the capture runs: a refused
			// capture leaves no file behind (and removes none).
			var out io.Writer = env.stdout
			if write != "-" {
				f, err := os.Create(write)
				if err != nil {
					o.end()
					return err
				}
				defer f.Close()
				out = f
			}
			bw := bufio.NewWriter(out)
			where := "the input of " + args[0] + "'s chain"
			if program != "" {
				where = fmt.Sprintf("the %s of %s", o.Probe().At, program)
			}
			fmt.Fprintf(env.stderr, "capturing %s (Ctrl-C to stop)\n", where)
			n, err := dumpPcap(o, bw, p.Snaplen, count)
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
			if eerr := o.end(); err == nil {
				err = eerr
			}
			fmt.Fprintf(env.stderr, "%d packets captured, %d dropped by the capture's buffer\n", n, o.Lost())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&netns, "netns", "", "network namespace of IFACE")
	f.StringVar(&program, "program", "", "the program whose packets to capture (default: the chain's input)")
	f.StringVar(&at, "at", "output", "where: input (as the program receives them) or output (as they leave it)")
	f.StringVar(&verdicts, "verdict", "", "at output, only packets with these verdicts (comma-separated; default all)")
	registerCount(cmd, &count)
	f.DurationVar(&duration, "duration", 0, "stop after this long (0: no limit)")
	f.Uint32Var(&snaplen, "snaplen", 0, fmt.Sprintf("bytes of each packet to capture (default and at most %d)", dispatcher.MaxSnaplen))
	f.StringVarP(&write, "write", "w", "", "pcap file to write, - for stdout")
	return cmd
}

// dumpPcap writes the observation's packets as pcap until count packets
// (0: no limit) or the observation's end, and returns how many it wrote.
// Each packet is flushed, so a reader on a pipe sees it at once.
func dumpPcap(o *observation, w *bufio.Writer, snaplen uint32, count int) (int, error) {
	if snaplen == 0 {
		snaplen = dispatcher.MaxSnaplen
	}
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(snaplen, layers.LinkTypeEthernet); err != nil {
		return 0, err
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	n := 0
	for count == 0 || n < count {
		e, err := o.Next()
		if o.finished(err) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		ci := gopacket.CaptureInfo{Timestamp: e.Time, CaptureLength: len(e.Data), Length: e.Len}
		if err := pw.WritePacket(ci, e.Data); err != nil {
			return n, err
		}
		if err := w.Flush(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
