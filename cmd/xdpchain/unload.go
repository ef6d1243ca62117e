package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
)

func newUnloadCmd(env *cliEnv) *cobra.Command {
	var (
		netns string
		names []string
		all   bool
		force bool
	)
	cmd := &cobra.Command{
		Use:   "unload [flags] (--name NAME... | --all) IFACE",
		Short: "Remove programs from an interface's chain; the root stays attached",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			iface := args[0]
			if all == (len(names) > 0) {
				return fmt.Errorf("%w: give --name or --all", dispatcher.ErrInvalid)
			}
			if handled, err := env.withDaemon(func(ctx context.Context, c *daemon.Client) error {
				removed, err := c.Unload(ctx, daemon.UnloadRequest{Interface: iface, NetNS: netns, Names: names, All: all, Force: force})
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "unloaded %d program(s) from %s through the daemon; the root stays attached\n", len(removed), iface)
				return nil
			}); handled || err != nil {
				return err
			}
			r, err := dispatcher.Open(iface, env.options(netns))
			if err != nil {
				return err
			}
			defer r.Close()
			var removed int
			_, err = r.Update(func(s *dispatcher.Spec) error {
				if all {
					removed = len(s.Programs)
					s.Programs = nil
					return nil
				}
				for _, n := range names {
					i := s.Programs.Index(n)
					if i < 0 {
						return fmt.Errorf("%w: %q on %s", dispatcher.ErrNotFound, n, iface)
					}
					s.Programs = append(s.Programs[:i], s.Programs[i+1:]...)
					removed++
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "unloaded %d program(s) from %s; the root stays attached\n", removed, iface)
			return nil
		},
	}
	cmd.Flags().StringVar(&netns, "netns", "", "network namespace of IFACE")
	cmd.Flags().StringSliceVar(&names, "name", nil, "program to remove (repeatable)")
	cmd.Flags().BoolVar(&all, "all", false, "remove every program (through the daemon: every program you may remove)")
	cmd.Flags().BoolVar(&force, "force", false, "through the daemon: let root remove other owners' programs")
	return cmd
}
