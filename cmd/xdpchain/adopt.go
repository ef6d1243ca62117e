package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

func newAdoptCmd(env *cliEnv) *cobra.Command {
	var netns, name, mechanism string
	cmd := &cobra.Command{
		Use:   "adopt [flags] IFACE",
		Short: "Take over the XDP program attached to an interface by netlink (ip link, xdp-loader)",
		Long: `Give IFACE, whose XDP program was attached by netlink (iproute2's ip link,
xdp-loader), an xdpchain root whose chain is that program, in the same mode.
The program keeps running as the kernel object it is, with its maps; the
chain tail-calls it and counts its verdicts, and programs loaded later run
before or after it. The kernel lets a bpf_link attach only where no program
is attached, so the hand-over is a netlink detach and a link attach back to
back: packets arriving in between (about a millisecond) meet no program.
An interface running libxdp's dispatcher (xdp-loader with several programs)
gets a chain of its components, the same kernel programs in libxdp's order
with libxdp's priorities and chain-call actions as proceed-on; such a chain
runs only under the freplace mechanism (kernels with BPF trampolines).
` + "`detach --leave NAME`" + ` is the reverse.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := dispatcher.ParseMechanism(mechanism)
			if err != nil {
				return err
			}
			c, ctx, done, err := env.connect()
			if err != nil {
				return err
			}
			defer done()
			op := chain.Adopt{Interface: chain.NewInterface(netns, args[0]), Name: name, Mechanism: m}
			ad, err := c.Adopt(ctx, op)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "adopted program %d %q on %s as %q (%s mode)\n", ad.ID, ad.KernelName, args[0], ad.Name, ad.Mode)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&netns, "netns", "", "network namespace of IFACE (name under /run/netns, or a path)")
	f.StringVar(&name, "name", "", "name of the program in the chain (default: its kernel name)")
	f.StringVar(&mechanism, "mechanism", "auto", "slot mechanism of the new root: "+dispatcher.MechanismChoices)
	return cmd
}
