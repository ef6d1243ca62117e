package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/chain"
)

func newDetachCmd(env *cliEnv) *cobra.Command {
	var (
		netns, leave string
		rev          expectedRevision
	)
	cmd := &cobra.Command{
		Use:   "detach [flags] IFACE",
		Short: "Remove the root dispatcher, its programs and every pin of an interface",
		Long: `Remove the root dispatcher of IFACE, its programs and every pin; the
interface then runs no XDP program. With --leave NAME the program NAME of the
chain stays, attached by netlink on its own in the root's mode (with its maps;
an adopted program as the kernel object it was), so xdpchain goes without
taking a filter down; the hand-over is a link detach and a netlink attach back
to back.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, done, err := env.connect()
			if err != nil {
				return err
			}
			defer done()
			itf := chain.NewInterface(netns, args[0])
			if cmd.Flags().Changed("leave") {
				id, err := c.Leave(ctx, chain.Leave{Interface: itf, Name: leave, ExpectedRevision: rev.get(cmd)})
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "detached xdpchain from %s, leaving %q attached by netlink (program %d)\n", args[0], leave, id)
				return nil
			}
			// Whatever the state's condition: a damaged root goes too.
			if err := c.Detach(ctx, chain.Detach{Interface: itf, ExpectedRevision: rev.get(cmd)}); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "detached xdpchain from %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&netns, "netns", "", "network namespace of IFACE")
	cmd.Flags().StringVar(&leave, "leave", "", "leave the program NAME attached by netlink")
	rev.register(cmd)
	return cmd
}
