package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/chain"
)

func newDetachCmd(env *cliEnv) *cobra.Command {
	var (
		netns string
		rev   expectedRevision
	)
	cmd := &cobra.Command{
		Use:   "detach [flags] IFACE",
		Short: "Remove the root dispatcher, its programs and every pin of an interface",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, done, err := env.connect()
			if err != nil {
				return err
			}
			defer done()
			// Whatever the state's condition: a damaged root goes too.
			if err := c.Detach(ctx, chain.Detach{Interface: chain.NewInterface(netns, args[0]), ExpectedRevision: rev.get(cmd)}); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "detached xdpchain from %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&netns, "netns", "", "network namespace of IFACE")
	rev.register(cmd)
	return cmd
}
