package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/dispatcher"
)

func newDetachCmd(env *cliEnv) *cobra.Command {
	var netns string
	cmd := &cobra.Command{
		Use:   "detach [flags] IFACE",
		Short: "Remove the root dispatcher, its programs and every pin of an interface",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Whatever the state's condition: a damaged root goes too.
			if err := dispatcher.DetachInterface(args[0], env.options(netns)); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "detached xdpchain from %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&netns, "netns", "", "network namespace of IFACE")
	return cmd
}
