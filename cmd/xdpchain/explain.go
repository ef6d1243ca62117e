package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

func newExplainCmd(env *cliEnv) *cobra.Command {
	var (
		netns, packet, pcap string
		index               int
		asJSON              bool
	)
	cmd := &cobra.Command{
		Use:   "explain [--netns NS] IFACE (--packet HEX | --pcap FILE [--index N])",
		Short: "Show how the interface's current chain decides one Ethernet frame",
		Long: `explain runs one Ethernet frame through the interface's current chain:
each program in slot order, loaded on its own with its live maps and run
with BPF_PROG_TEST_RUN on the frame as the programs before it left it, and
prints each slot's verdict, what the dispatcher did with it (continue,
shadow, denied, invalid, decides), the final verdict and the program that
decided it. The dispatcher's counters do not change; the programs' own maps
are the live ones, so what a program does to them happens for real.
Like every verb, it asks the daemon when one answers (root only), else it
reads the pins (root).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			frame, err := explainFrame(packet, pcap, index)
			if err != nil {
				return err
			}
			c, ctx, done, err := env.connect()
			if err != nil {
				return err
			}
			defer done()
			ex, err := c.Explain(ctx, chain.NewInterface(netns, args[0]), frame)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(env.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(ex)
			}
			tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLOT\tPROGRAM\tVERDICT\tDISPATCHER")
			for _, s := range ex.Slots {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Slot, s.Name, s.Verdict, s.Action)
			}
			tw.Flush()
			fmt.Fprintf(env.stdout, "verdict %s, decided by %s\n", ex.Verdict, ex.DecidedBy)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&netns, "netns", "", "network namespace of IFACE")
	f.StringVar(&packet, "packet", "", "the frame, as hex (spaces and colons allowed)")
	f.StringVar(&pcap, "pcap", "", "read the frame from a pcap file (libpcap format, Ethernet)")
	f.IntVar(&index, "index", 0, "which frame of --pcap (0 is the first)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// explainFrame reads the frame of --packet or --pcap.
func explainFrame(packet, pcap string, index int) ([]byte, error) {
	switch {
	case (packet == "") == (pcap == ""):
		return nil, fmt.Errorf("%w: give one of --packet HEX and --pcap FILE", dispatcher.ErrInvalid)
	case packet != "":
		b, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "", "\n", "").Replace(packet))
		if err != nil {
			return nil, fmt.Errorf("%w: --packet: %w", dispatcher.ErrInvalid, err)
		}
		return b, nil
	}
	b, err := os.ReadFile(pcap)
	if err != nil {
		return nil, err
	}
	return pcapFrame(b, index)
}

// pcapFrame returns frame index of a libpcap file with Ethernet link type.
func pcapFrame(b []byte, index int) ([]byte, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: not a usable pcap file: %s", dispatcher.ErrInvalid, why)
	}
	if len(b) < 24 {
		return nil, bad("shorter than its header")
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, bad("no libpcap magic (pcapng is not supported)")
	}
	if lt := bo.Uint32(b[20:]) & 0x0fffffff; lt != 1 {
		return nil, bad(fmt.Sprintf("link type %d, want Ethernet (1)", lt))
	}
	b = b[24:]
	for i := 0; ; i++ {
		if len(b) < 16 {
			return nil, bad(fmt.Sprintf("it holds %d frames, asked for index %d", i, index))
		}
		n := int(bo.Uint32(b[8:]))
		if n > len(b)-16 {
			return nil, bad("a frame runs past the end")
		}
		if i == index {
			return append([]byte(nil), b[16:16+n]...), nil
		}
		b = b[16+n:]
	}
}
