package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/daemon"
)

func newPlanCmd(env *cliEnv) *cobra.Command {
	var (
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "plan --config FILE [--json]",
		Short: "Show what the daemon would change with a config file, changing nothing",
		Long: `plan reads the config file and each of its interfaces' chains and prints,
per interface, what applying the file would do: programs added, removed,
replaced (a new object), moved (another slot) or changed (priority,
proceed-on, allowed verdicts, shadow), the interface's settings, and each
plugin's settings that change (against those in force, which a running
daemon reports; values the plugin marks secret are never shown). It
uses the daemon's planner (programs of other owners are kept, placements
resolved) and touches nothing: no root, pin, program or plugin process.
It exits 0 whether or not there are changes, 1 when the file is invalid
or the daemon would refuse it on an interface.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cf, err := env.configFile(true)
			if err != nil {
				return err
			}
			path := cf.path
			cfg, err := loadConfig(env, path)
			if err != nil {
				return err
			}
			plans, err := daemon.Plan(cfg)
			if err != nil {
				return err
			}
			// The plugins' settings in force are the daemon's to say.
			daemon.PlanSettings(plans, cfg, env.daemonStatus())
			if asJSON {
				if plans == nil {
					plans = []daemon.InterfacePlan{}
				}
				enc := json.NewEncoder(env.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"config": cfg.File, "interfaces": plans}); err != nil {
					return err
				}
			} else {
				printPlan(env.stdout, plans)
			}
			refused := 0
			for _, p := range plans {
				if p.Error != "" {
					refused++
				}
			}
			if refused > 0 {
				return fmt.Errorf("%s: the daemon would refuse this config on %d interface(s) (listed above)", path, refused)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printPlan(w io.Writer, plans []daemon.InterfacePlan) {
	if len(plans) == 0 {
		fmt.Fprintln(w, "no interfaces: nothing to do")
		return
	}
	sign := map[string]string{
		daemon.ChangeAdded: "+", daemon.ChangeRemoved: "-", daemon.ChangeReplaced: "~",
		daemon.ChangeMoved: ">", daemon.ChangeSettings: "~",
	}
	for _, p := range plans {
		var what []string
		switch {
		case p.Error != "":
			what = append(what, "refused: "+p.Error)
		case p.Leaves:
			what = append(what, "left the config: the daemon's programs go")
		case p.Attach:
			what = append(what, "no root yet: one is attached")
		case !p.Changed():
			what = append(what, "no change")
		default:
			what = append(what, fmt.Sprintf("revision %d", p.Revision))
		}
		fmt.Fprintf(w, "%s: %s\n", p.Interface, strings.Join(what, ", "))
		for _, s := range p.Settings {
			fmt.Fprintf(w, "  ~ %s\n", s)
		}
		for _, s := range p.PluginSettings {
			old, now := s.Old, s.New
			if old == "" {
				old = "(unset)"
			}
			if now == "" {
				now = "(unset)"
			}
			fmt.Fprintf(w, "  ~ plugin %s setting %s: %s -> %s\n", s.Plugin, s.Key, old, now)
		}
		for _, c := range p.Changes {
			line := fmt.Sprintf("  %s %s (%s) %s", sign[c.Kind], c.Program, c.Owner, c.Kind)
			if c.Detail != "" {
				line += ": " + c.Detail
			}
			fmt.Fprintln(w, line)
		}
		if p.Unchanged > 0 {
			fmt.Fprintf(w, "  = %d program(s) unchanged\n", p.Unchanged)
		}
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
}

// daemonStatus is the status of the daemon that answers on the socket,
// nil when none does (or it fails to answer).
func (e *cliEnv) daemonStatus() *api.Status {
	c, ctx, done, err := e.connect()
	if err != nil {
		return nil
	}
	defer done()
	if !c.Remote() {
		return nil
	}
	st, err := c.Status(ctx, nil)
	if err != nil {
		return nil
	}
	return st.Daemon
}
