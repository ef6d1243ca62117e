package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// traceLine is one packet of `trace`: its flow, the programs it passed
// and who decided.
type traceLine struct {
	Time  time.Time `json:"time"`
	Proto string    `json:"proto"`
	Src   string    `json:"src"`
	Dst   string    `json:"dst"`
	Len   int       `json:"len"`
	// Packet is the packet's first bytes in hex (up to 128), as explain
	// --packet takes them.
	Packet string `json:"packet"`
	dispatcher.Explanation
}

func newTraceCmd(env *cliEnv) *cobra.Command {
	var (
		netns    string
		count    int
		duration time.Duration
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "trace [--netns NS] IFACE [-c COUNT] [--duration D] [--json]",
		Short: "Print live, per packet, each program's verdict and who decided",
		Long: `trace prints one line per packet the chain handles: its flow (protocol,
source and destination), each program it passed with the verdict the chain
acted on and what the dispatcher did with it (continue, shadow, decides),
and the final verdict with the program that decided it. It is explain on
live traffic. --json prints one JSON object per line.

While it runs the chain runs a generation with the trace's probes; when it
ends (-c, --duration, Ctrl-C, or its death) the plain generation runs again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 0 {
				return fmt.Errorf("%w: -c %d is negative", dispatcher.ErrInvalid, count)
			}
			o, err := env.observe(cmd, netns, args[0], dispatcher.Probe{Kind: dispatcher.ProbeTrace}, duration)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stderr, "tracing %s (Ctrl-C to stop)\n", args[0])
			var tr dispatcher.Tracer
			enc := json.NewEncoder(env.stdout)
			n := 0
			for count == 0 || n < count {
				e, rerr := o.Next()
				if o.finished(rerr) {
					break
				}
				if rerr != nil {
					err = rerr
					break
				}
				p := tr.Add(e)
				if p == nil {
					continue
				}
				line := newTraceLine(p)
				if asJSON {
					err = enc.Encode(line)
				} else {
					_, err = fmt.Fprintln(env.stdout, line)
				}
				if err != nil {
					break
				}
				n++
			}
			if eerr := o.end(); err == nil {
				err = eerr
			}
			if lost := o.Lost(); lost > 0 {
				fmt.Fprintf(env.stderr, "the trace's buffer dropped %d records: some packets are missing\n", lost)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&netns, "netns", "", "network namespace of IFACE")
	registerCount(cmd, &count)
	f.DurationVar(&duration, "duration", 0, "stop after this long (0: no limit)")
	f.BoolVar(&asJSON, "json", false, "print JSON lines")
	return cmd
}

// newTraceLine decodes a traced packet's flow from its first bytes.
func newTraceLine(p *dispatcher.TracedPacket) traceLine {
	l := traceLine{Time: p.Time, Len: p.Len, Packet: hex.EncodeToString(p.Data), Explanation: p.Explanation, Proto: "?"}
	pkt := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	if eth, ok := pkt.LinkLayer().(*layers.Ethernet); ok {
		l.Proto, l.Src, l.Dst = eth.EthernetType.String(), eth.SrcMAC.String(), eth.DstMAC.String()
	}
	if nl := pkt.NetworkLayer(); nl != nil {
		src, dst := nl.NetworkFlow().Endpoints()
		l.Proto, l.Src, l.Dst = nl.LayerType().String(), src.String(), dst.String()
		switch ip := nl.(type) {
		case *layers.IPv4:
			l.Proto = strings.ToLower(ip.Protocol.String())
		case *layers.IPv6:
			l.Proto = strings.ToLower(ip.NextHeader.String())
		}
	}
	if tl := pkt.TransportLayer(); tl != nil {
		sp, dp := tl.TransportFlow().Endpoints()
		l.Src, l.Dst = joinHostPort(l.Src, sp.String()), joinHostPort(l.Dst, dp.String())
	}
	return l
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// String is the text line of a traced packet.
func (l traceLine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s > %s len %d:", l.Time.Format("15:04:05.000000"), l.Proto, l.Src, l.Dst, l.Len)
	for _, s := range l.Slots {
		fmt.Fprintf(&b, " %s %s", s.Name, s.Verdict)
		if s.Action != dispatcher.ActionContinue {
			fmt.Fprintf(&b, " (%s)", s.Action)
		}
		b.WriteString(",")
	}
	fmt.Fprintf(&b, " verdict %s, decided by %s", l.Verdict, l.DecidedBy)
	return b.String()
}
