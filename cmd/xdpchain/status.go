package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// statusDoc is the JSON document of `status --json`.
type statusDoc struct {
	Interfaces []dispatcher.InterfaceStatus `json:"interfaces"`
}

func newStatusCmd(env *cliEnv) *cobra.Command {
	var (
		netns  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status [flags] [IFACE]",
		Short: "Show roots, chains and per-program packet counters",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc := statusDoc{Interfaces: []dispatcher.InterfaceStatus{}}
			if len(args) == 1 {
				r, err := dispatcher.Open(args[0], env.options(netns))
				if err != nil {
					return err
				}
				defer r.Close()
				st, err := r.Status()
				if err != nil {
					return err
				}
				doc.Interfaces = append(doc.Interfaces, *st)
			} else {
				all, err := dispatcher.List(env.options(""))
				if err != nil {
					return err
				}
				doc.Interfaces = all
			}
			if asJSON {
				enc := json.NewEncoder(env.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(doc)
			}
			printStatus(env.stdout, doc)
			return nil
		},
	}
	cmd.Flags().StringVar(&netns, "netns", "", "network namespace of IFACE")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStatus(w io.Writer, doc statusDoc) {
	if len(doc.Interfaces) == 0 {
		fmt.Fprintln(w, "no interface has an xdpchain root")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, s := range doc.Interfaces {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		ns := s.NetNS
		if ns == "" {
			ns = fmt.Sprintf("inode %d", s.NetNSInode)
		}
		fmt.Fprintf(tw, "%s (ifindex %d, netns %s): %s mode, %s (%s), link %d, dispatcher %d, generation %d\n",
			s.Name, s.Ifindex, ns, s.Mode, s.Mechanism, s.MechanismReason, s.LinkID, s.DispatcherID, s.Generation)
		fmt.Fprintln(tw, "  SLOT\tNAME\tPRIO\tPROCEED-ON\tPROG-ID\tOWNER\tABORTED\tDROP\tPASS\tTX\tREDIRECT\tINVALID\tDENIED\t")
		for _, p := range s.Programs {
			id := "-"
			if p.ProgramID != 0 {
				id = fmt.Sprint(p.ProgramID)
			}
			name := p.Name
			if p.Shadow {
				name += " (shadow)"
			}
			owner := p.Owner
			if owner == "" {
				owner = "-"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n",
				p.Slot, name, p.Priority, strings.Join(p.ProceedOn, ","), id, owner,
				p.Stats.Aborted, p.Stats.Drop, p.Stats.Pass, p.Stats.TX, p.Stats.Redirect, p.Stats.Invalid, p.Stats.Denied)
		}
		fmt.Fprintf(tw, "  -\t(fall-through)\t\t\t\t\t\t\t\t\t\t\t\t%s: %d packets\n", s.Fallthrough, s.FallthroughPackets)
	}
	tw.Flush()
}
