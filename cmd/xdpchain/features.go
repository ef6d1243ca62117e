package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/dispatcher"
)

func newFeaturesCmd(env *cliEnv) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "features",
		Short: "Probe what this kernel supports",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			feats := dispatcher.Features()
			mechs := dispatcher.MechanismSupport()
			mech, reason := dispatcher.ResolveMechanism(dispatcher.AutoMechanism, dispatcher.AutoMechanism)
			// When bpf() itself is refused nothing works: no mechanism,
			// and the exit status says so.
			refused := dispatcher.CheckBPF()
			auto := fmt.Sprintf("%s (%s)", mech, reason)
			if refused != nil {
				mech, reason = "", dispatcher.ErrBPFRefused.Error()
				auto = "none: " + reason
			}
			if asJSON {
				enc := json.NewEncoder(env.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{
					"features":         feats,
					"mechanisms":       mechs,
					"auto_mechanism":   mech,
					"mechanism_reason": reason,
				}); err != nil {
					return err
				}
				return refused
			}
			tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
			for _, f := range feats {
				yes := "yes"
				if !f.Supported {
					yes = "no: " + f.Reason
				}
				fmt.Fprintf(tw, "%s\t%s\n", f.Name, yes)
			}
			for _, m := range mechs {
				yes := "yes"
				if !m.Supported {
					yes = "no: " + m.Reason
				}
				fmt.Fprintf(tw, "slot mechanism %s\t%s\n", m.Name, yes)
			}
			fmt.Fprintf(tw, "slot mechanism (auto)\t%s\n", auto)
			if err := tw.Flush(); err != nil {
				return err
			}
			return refused
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
