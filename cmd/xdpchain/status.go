package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// statusDoc is the JSON document of `status --json`.
type statusDoc struct {
	Interfaces []dispatcher.InterfaceStatus `json:"interfaces"`
	// Set when a daemon answered: its config file and plugin processes.
	Config  string             `json:"config,omitempty"`
	Plugins []api.PluginStatus `json:"plugins,omitempty"`
	daemon  *api.Status
	// looked says where status looked, for an empty answer.
	looked string
	// notes say what a damaged or another instance's root is (rootNote),
	// by index in Interfaces.
	notes []string
}

// statusTarget is what status and top report: one interface (IFACE), the
// roots of one namespace (--netns without IFACE) or every root (nil).
func statusTarget(netns string, args []string) *chain.Interface {
	switch {
	case len(args) == 1:
		i := chain.NewInterface(netns, args[0])
		return &i
	case netns != "":
		i := chain.NewInterface(netns, "")
		return &i
	}
	return nil
}

// rootNotes returns rootNote of each status.
func (e *cliEnv) rootNotes(list []dispatcher.InterfaceStatus) []string {
	notes := make([]string, len(list))
	for i := range list {
		notes[i] = e.rootNote(&list[i])
	}
	return notes
}

// rootNote says what a root that cannot be shown is, "" for one that can:
// another instance's ("foreign", never advice to remove it) or a damaged
// one of this instance, with the exact command that removes it.
func (e *cliEnv) rootNote(s *dispatcher.InterfaceStatus) string {
	switch {
	case s.Foreign != nil:
		return fmt.Sprintf("foreign: managed by %s; ask that instance (its daemon's socket, or --state-dir %s)", s.Foreign, s.Foreign.StateDir)
	case s.Damaged == "":
		return ""
	case s.Name == "":
		return fmt.Sprintf("DAMAGED: %s; its interface's name is unknown here (netns inode %d): `%s` with that name removes it", s.Damaged, s.NetNSInode, e.detachCommand("", "IFACE"))
	}
	return fmt.Sprintf("DAMAGED: %s; `%s` removes it", s.Damaged, e.detachCommand(s.NetNS, s.Name))
}

// detachCommand is the command line that detaches an interface as this
// invocation sees it: the same config file, paths and socket.
func (e *cliEnv) detachCommand(netns, name string) string {
	args := []string{"xdpchain"}
	if e.source.exists && e.source.from != "default" {
		args = append(args, "--config", e.source.path)
	}
	for _, f := range []struct{ flag, val string }{{"bpffs", e.bpffs}, {"state-dir", e.state}, {"socket", e.socket}} {
		if e.flags != nil && e.flags.Changed(f.flag) {
			args = append(args, "--"+f.flag, f.val)
		}
	}
	if e.noDaemon {
		args = append(args, "--no-daemon")
	}
	args = append(args, "detach")
	if netns != "" {
		args = append(args, "--netns", netns)
	}
	return strings.Join(append(args, name), " ")
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
			itf := statusTarget(netns, args)
			c, ctx, done, err := env.connect()
			if err != nil {
				return err
			}
			defer done()
			st, err := c.Status(ctx, itf)
			if err != nil {
				return err
			}
			if st.Interfaces != nil {
				doc.Interfaces = st.Interfaces
			}
			if d := st.Daemon; d != nil {
				viewPIDs(d) // as this process sees them
				doc.Plugins, doc.Config, doc.daemon = d.Plugins, d.Config, d
			}
			if asJSON {
				enc := json.NewEncoder(env.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(doc)
			}
			doc.looked = env.looked()
			doc.notes = env.rootNotes(doc.Interfaces)
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
		fmt.Fprint(w, "no interface has an xdpchain root")
		if doc.looked != "" {
			fmt.Fprintf(w, " (%s)", doc.looked)
		}
		fmt.Fprintln(w)
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
		if i < len(doc.notes) && doc.notes[i] != "" {
			fmt.Fprintf(tw, "%s (ifindex %d, netns %s): link %d, dispatcher %d: %s\n", s.DisplayName(), s.Ifindex, ns, s.LinkID, s.DispatcherID, doc.notes[i])
			continue
		}
		bound := ""
		if s.DeviceBound {
			bound = ", bound to the device"
		}
		fmt.Fprintf(tw, "%s (ifindex %d, netns %s): %s mode%s, %s (%s), link %d, dispatcher %d, revision %d\n",
			s.Name, s.Ifindex, ns, s.Mode, bound, s.Mechanism, s.MechanismReason, s.LinkID, s.DispatcherID, s.Revision)
		fmt.Fprintln(tw, "  SLOT\tNAME\tPRIO\tPROCEED-ON\tPLACED\tPROG-ID\tALONE-ID\tOWNER\tVERSION\tPROCESS\tABORTED\tDROP\tPASS\tTX\tREDIRECT\tINVALID\tDENIED\t")
		for j, p := range s.Programs {
			id, alone := "-", "-"
			if p.ProgramID != 0 {
				id = fmt.Sprint(p.ProgramID)
			}
			if p.AloneID != 0 {
				alone = fmt.Sprint(p.AloneID)
			}
			name := p.Name
			if p.Shadow {
				name += " (shadow)"
			}
			owner := p.Owner
			if owner == "" {
				owner = "-"
			}
			version, process := p.Version, "-"
			if version == "" {
				version = "-"
			}
			if doc.daemon != nil {
				if ps := doc.daemon.Process(&doc.Interfaces[i], &s.Programs[j]); ps != nil {
					process = ps.State
					if ps.PID != 0 {
						process = fmt.Sprintf("%s (%s)", ps.State, pidText(ps))
					}
					if ps.Health != "" {
						process += ", unhealthy"
					}
				}
			}
			placed := p.Placement
			if placed == "" {
				placed = "-"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n",
				p.Slot, name, p.Priority, strings.Join(p.ProceedOn, ","), placed, id, alone, owner, version, process,
				p.Stats.Aborted, p.Stats.Drop, p.Stats.Pass, p.Stats.TX, p.Stats.Redirect, p.Stats.Invalid, p.Stats.Denied)
		}
		fmt.Fprintf(tw, "  -\t(fall-through)\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t%s: %d packets\n", s.Fallthrough, s.FallthroughPackets)
		for j, p := range s.Programs {
			if p.CallReason != "" {
				fmt.Fprintf(tw, "  slot %d (%s) %s\n", p.Slot, p.Name, p.CallReason)
			}
			if p.DeviceBound {
				fmt.Fprintf(tw, "  slot %d (%s) reads XDP hints (bpf_xdp_metadata_* kfuncs): it binds the chain to %s, which runs only there, in native mode\n", p.Slot, p.Name, s.Name)
			}
			if p.AdoptedID != 0 && p.Placement == dispatcher.PlacementFreplace {
				fmt.Fprintf(tw, "  slot %d (%s) adopted: libxdp component, extension program %d\n", p.Slot, p.Name, p.AdoptedID)
			} else if p.AdoptedID != 0 {
				fmt.Fprintf(tw, "  slot %d (%s) adopted: tail-calls program %d\n", p.Slot, p.Name, p.AdoptedID)
			}
			if p.XSKMap != "" {
				fmt.Fprintf(tw, "  slot %d (%s) xskmap %s\n", p.Slot, p.Name, p.XSKMap)
			}
			if doc.daemon == nil {
				continue
			}
			if ps := doc.daemon.Process(&doc.Interfaces[i], &s.Programs[j]); ps != nil && ps.Health != "" {
				fmt.Fprintf(tw, "  slot %d (%s) health check: %s\n", p.Slot, p.Name, strings.TrimPrefix(ps.Health, "plugin "+ps.Name+": "))
			}
		}
	}
	tw.Flush()
	for _, s := range doc.Interfaces {
		if len(s.Programs) > 0 {
			fmt.Fprintln(w, runCountsNote)
			break
		}
	}
}

// runCountsNote says where a program's run counts are, under the status
// table.
const runCountsNote = `
Run counts live in xdpchain's counters (the verdict columns above; /metrics): an
inline or linked program has no kernel program of its own, so bpftool prog show
and bpftop count the dispatcher as a whole (and a freplace program under its
PROG-ID). ALONE-ID is each program verified alone, kept loaded (once, shared by
every interface that runs it) so that bpftool prog show/dump xlated id N show
its code and its maps; it never runs, so its run_cnt stays 0. xdpchain profile
measures each program's time per packet.`
