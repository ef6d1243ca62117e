package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
)

func newLoadCmd(env *cliEnv) *cobra.Command {
	var (
		netns, progName, name, proceedOn, allowed, mode, mechanism, fallThrough string
		priority                                                                int
		shadow, replace, force                                                  bool
	)
	cmd := &cobra.Command{
		Use:   "load [flags] IFACE OBJ.o",
		Short: "Add a program to an interface's chain (attaching the root if needed)",
		Long: `Add the XDP program of an ELF object to the chain of IFACE. Priority and
proceed-on default to what the object declares in libxdp's .xdp_run_config
metadata (else 50 and "pass"); flags override. The change is one atomic swap;
on any error the running chain is untouched.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			iface, path := args[0], args[1]
			obj, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("reading object: %w", err)
			}
			if handled, err := env.withDaemon(func(ctx context.Context, c *daemon.Client) error {
				req := daemon.LoadRequest{Interface: iface, NetNS: netns, Object: obj, ProgramName: progName, Name: name, Shadow: shadow, Force: force}
				if cmd.Flags().Changed("priority") {
					req.Priority = &priority
				}
				if cmd.Flags().Changed("proceed-on") {
					v, err := dispatcher.ParseVerdictSet(proceedOn)
					if err != nil {
						return err
					}
					req.ProceedOn = &v
				}
				if allowed != "" {
					v, err := dispatcher.ParseVerdictSet(allowed)
					if err != nil {
						return err
					}
					req.Allowed = &v
				}
				m, err := dispatcher.ParseMode(mode)
				if err != nil {
					return err
				}
				req.Mode = m
				l, err := c.Load(ctx, req)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "loaded %q on %s through the daemon: priority %d, owner %s\n", l.Name, iface, l.Priority, l.Owner)
				return nil
			}); handled || err != nil {
				return err
			}
			p, err := dispatcher.NewProgram(name, obj, progName)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("priority") {
				p.Priority = priority
			}
			if cmd.Flags().Changed("proceed-on") {
				if p.ProceedOn, err = dispatcher.ParseVerdictSet(proceedOn); err != nil {
					return err
				}
			}
			if allowed != "" {
				if p.Allowed, err = dispatcher.ParseVerdictSet(allowed); err != nil {
					return err
				}
			}
			p.Shadow = shadow
			p.Owner = currentUser().Owner().String()

			opts := env.options(netns)
			if opts.Mode, err = dispatcher.ParseMode(mode); err != nil {
				return err
			}
			if opts.Mechanism, err = dispatcher.ParseMechanism(mechanism); err != nil {
				return err
			}
			opts.VerifierLogs = showVerifierLog
			r, err := dispatcher.Attach(iface, opts)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = r.Update(func(s *dispatcher.Spec) error {
				if cmd.Flags().Changed("mechanism") {
					s.Mechanism = opts.Mechanism
				}
				if fallThrough != "" {
					v, err := dispatcher.ParseVerdict(fallThrough)
					if err != nil {
						return err
					}
					if v == dispatcher.Aborted {
						return fmt.Errorf("%w: aborted reports program errors and cannot be the fall-through verdict; use drop", dispatcher.ErrInvalid)
					}
					s.Fallthrough = v
				}
				if i := s.Programs.Index(p.Name); i >= 0 {
					if !replace {
						return &dispatcher.ProgramError{Program: p.Name, Err: fmt.Errorf("%w: already loaded on %s (use --replace)", dispatcher.ErrInvalid, iface)}
					}
					s.Programs[i] = p
					return nil
				}
				s.Programs = append(s.Programs, p)
				return nil
			})
			if err != nil {
				return err
			}
			st, err := r.Status()
			if err != nil {
				return err
			}
			for _, ps := range st.Programs {
				if ps.Name == p.Name {
					fmt.Fprintf(env.stdout, "loaded %q on %s: slot %d of %d, priority %d, proceed-on %s (%s, %s mode)\n",
						p.Name, iface, ps.Slot, len(st.Programs), ps.Priority, p.ProceedOn, st.Mechanism, st.Mode)
				}
			}
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
	f.StringVar(&mode, "mode", "auto", "attach mode when the root is created: native, skb or auto")
	f.StringVar(&mechanism, "mechanism", "auto", "slot mechanism: inline, linked, freplace or auto (inline)")
	f.StringVar(&fallThrough, "fallthrough", "", "verdict when the last program continues (default pass)")
	f.BoolVar(&shadow, "shadow", false, "count the program's verdicts but always continue (dry run)")
	f.BoolVar(&replace, "replace", false, "replace a program of the same name")
	f.BoolVar(&force, "force", false, "through the daemon: let root replace another owner's program")
	f.BoolVar(&showVerifierLog, "verifier-log", false, "print the verifier log when a program is rejected")
	return cmd
}
