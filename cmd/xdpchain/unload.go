package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/chain"
)

func newUnloadCmd(env *cliEnv) *cobra.Command {
	var (
		netns string
		names []string
		all   bool
		force bool
		rev   expectedRevision
	)
	cmd := &cobra.Command{
		Use:   "unload [flags] (--name NAME... | --all) IFACE",
		Short: "Remove programs from an interface's chain; the root stays attached",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			iface := args[0]
			op := chain.Unload{Interface: chain.NewInterface(netns, iface), Names: names, All: all, Force: force, ExpectedRevision: rev.get(cmd)}
			if err := op.Validate(); err != nil {
				return err
			}
			c, ctx, done, err := env.connect()
			if err != nil {
				return err
			}
			defer done()
			u, err := c.Unload(ctx, op)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "unloaded %d program(s) from %s; the root stays attached (revision %d)\n", len(u.Removed), iface, u.Revision)
			return nil
		},
	}
	cmd.Flags().StringVar(&netns, "netns", "", "network namespace of IFACE")
	cmd.Flags().StringSliceVar(&names, "name", nil, "program to remove (repeatable)")
	cmd.Flags().BoolVar(&all, "all", false, "remove every program you may remove (yours; with --force as root, every one the daemon does not manage)")
	cmd.Flags().BoolVar(&force, "force", false, "as root, remove other users' programs")
	rev.register(cmd)
	return cmd
}
