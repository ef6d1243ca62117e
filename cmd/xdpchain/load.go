package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

func newLoadCmd(env *cliEnv) *cobra.Command {
	var (
		netns, progName, name, proceedOn, allowed, mode, mechanism, fallThrough string
		before, after                                                           string
		priority                                                                int
		shadow, replace, force, xsk                                             bool
		rev                                                                     expectedRevision
	)
	cmd := &cobra.Command{
		Use:   "load [flags] IFACE OBJ.o | load --xsk [flags] IFACE",
		Short: "Add a program to an interface's chain (attaching the root if needed)",
		Long: `Add the XDP program of an ELF object to the chain of IFACE. Priority and
proceed-on default to what the object declares in libxdp's .xdp_run_config
metadata (else 50 and "pass"); flags override. --before/--after NAME place
the program immediately before or after another one (its priority is
chosen to fit). The change is one atomic swap; on any error the running
chain is untouched. Every flag means the same with and without a daemon.

--xsk loads xdpchain's built-in AF_XDP program instead of an object (named
"xsk" unless --name says otherwise): it redirects each packet to the AF_XDP
socket bound to its RX queue in its XSKMAP, whose pin ` + "`status`" + ` shows
(xskmap), and passes it on when no socket is bound there.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if xsk {
				if err := cobra.ExactArgs(1)(cmd, args); err != nil {
					return fmt.Errorf("--xsk takes the interface only (the object is built in): %w", err)
				}
				if progName != "" {
					return fmt.Errorf("--xsk and --prog exclude each other: the built-in program is %s", dispatcher.XSKProgramName)
				}
				return nil
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			iface := args[0]
			var obj []byte
			if xsk {
				obj, progName = dispatcher.XSKObject(), dispatcher.XSKProgramName
				if name == "" {
					name = dispatcher.DefaultXSKName
				}
			} else {
				var err error
				if obj, err = os.ReadFile(args[1]); err != nil {
					return fmt.Errorf("reading object: %w", err)
				}
			}
			req := chain.LoadRequest{
				Interface: chain.NewInterface(netns, iface), Object: obj, ProgramName: progName, Name: name,
				Replace: replace, Force: force, Placement: chain.Placement{Before: before, After: after},
				ExpectedRevision: rev.get(cmd), VerifierLog: env.verifierLog,
			}
			if cmd.Flags().Changed("priority") {
				req.Overrides.Priority = &priority
			}
			if cmd.Flags().Changed("proceed-on") {
				v, err := dispatcher.ParseVerdictSet(proceedOn)
				if err != nil {
					return err
				}
				req.Overrides.ProceedOn = &v
			}
			if allowed != "" {
				v, err := dispatcher.ParseVerdictSet(allowed)
				if err != nil {
					return err
				}
				req.Overrides.Allowed = &v
			}
			req.Overrides.Shadow = &shadow
			var err error
			if req.Mode, err = dispatcher.ParseMode(mode); err != nil {
				return err
			}
			if req.Mechanism, err = dispatcher.ParseMechanism(mechanism); err != nil {
				return err
			}
			if fallThrough != "" {
				v, err := dispatcher.ParseFallthrough(fallThrough)
				if err != nil {
					return err
				}
				req.Fallthrough = &v
			}
			c, ctx, done, err := env.connect()
			if err != nil {
				return err
			}
			defer done()
			l, err := c.Load(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "loaded %q on %s: slot %d of %d, priority %d, proceed-on %s (%s, %s mode), owner %s, revision %d\n",
				l.Name, iface, l.Slot, l.Programs, l.Priority, l.ProceedOn, l.Mechanism, l.Mode, l.Owner, l.Revision)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&netns, "netns", "", "network namespace of IFACE (name under /run/netns, or a path)")
	f.StringVar(&progName, "prog", "", "program (function) in the object; needed when it has several")
	f.StringVar(&name, "name", "", "name of the program in the chain (default: the function name)")
	f.IntVar(&priority, "priority", dispatcher.DefaultPriority, "lower runs first; ties are ordered by name")
	f.StringVar(&proceedOn, "proceed-on", "pass", "verdicts on which the chain continues (comma-separated)")
	f.StringVar(&allowed, "allowed", "", "verdicts the program may return; others become aborted and count as denied")
	f.StringVar(&mode, "mode", "auto", "attach mode when the root is created: "+dispatcher.ModeChoices)
	f.StringVar(&mechanism, "mechanism", "auto", "slot mechanism: "+dispatcher.MechanismChoices)
	f.StringVar(&fallThrough, "fallthrough", "", "verdict when the last program continues (default pass)")
	f.StringVar(&before, "before", "", "place the program immediately before the program NAME (instead of --priority)")
	f.StringVar(&after, "after", "", "place the program immediately after the program NAME (instead of --priority)")
	f.BoolVar(&xsk, "xsk", false, "load the built-in AF_XDP program (redirect by RX queue to its XSKMAP) instead of an object")
	f.BoolVar(&shadow, "shadow", false, "count the program's verdicts but always continue (dry run)")
	f.BoolVar(&replace, "replace", false, "replace a program of the same name (without it, a name in use is refused)")
	f.BoolVar(&force, "force", false, "as root, replace another user's program")
	f.BoolVar(&env.verifierLog, "verifier-log", false, "print the verifier log when a program is rejected")
	rev.register(cmd)
	return cmd
}
