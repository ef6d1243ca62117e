package config

import (
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Defaults of the [daemon] table.
const (
	DefaultSocket = "/run/xdpchain/xdpchain.sock"
)

// Priorities in the config file (programs, plugins, grants) lie in
// [MinPriority, MaxPriority], the dispatcher's range; lower runs first.
const (
	MinPriority = dispatcher.MinPriority
	MaxPriority = dispatcher.MaxPriority
)

// Config is a loaded, validated config file. Paths in it are absolute.
type Config struct {
	// File is the absolute path of the file the config was loaded from.
	File       string
	Daemon     Daemon
	Interfaces []Interface
	Plugins    []Plugin
	Programs   []Program
	Grants     []Grant

	file string   // as given to Load, for errors
	loc  *locator // key lines, for errors found after Load
}

// Daemon is the [daemon] table.
type Daemon struct {
	// BPFFS is the bpffs mount for pins (default /sys/fs/bpf).
	BPFFS string
	// Socket is the control socket's path (default /run/xdpchain/xdpchain.sock).
	Socket string
	// SocketGroup is the group (name or number) that owns the socket; members
	// may connect (mode 0660). Empty keeps the daemon's group.
	SocketGroup string
	// SocketGID is SocketGroup resolved, or -1.
	SocketGID int
	// StateDir keeps program objects beside the pins (default /run/xdpchain).
	StateDir string
	// Metrics is the listen address of the HTTP server for /metrics,
	// /healthz and /readyz (host:port); empty: no server.
	Metrics string
	// ProfileSample, when not 0, keeps a sampled profile (one packet in
	// ProfileSample timed) always on on the daemon's interfaces, exported
	// in /metrics.
	ProfileSample uint32
}

// Interface is one [[interface]]: a network interface whose chain the daemon
// manages.
type Interface struct {
	Name string
	// NetNS is a network namespace name (under /run/netns) or path; empty is
	// the daemon's own namespace.
	NetNS       string
	Mode        dispatcher.Mode
	Mechanism   dispatcher.Mechanism
	Fallthrough dispatcher.Verdict
	// Line is the line of the [[interface]] header.
	Line int
}

// Ref is how the rest of the config refers to the interface: its name, or
// "NETNS/NAME" when it lives in another network namespace.
func (i *Interface) Ref() string { return i.ID().String() }

// ID is the interface as a chain.Interface.
func (i *Interface) ID() chain.Interface { return chain.NewInterface(i.NetNS, i.Name) }

// Options returns the dispatcher options for the interface.
func (c *Config) Options(i *Interface) *dispatcher.Options {
	return &dispatcher.Options{
		NetNS:     i.NetNS,
		BPFFS:     c.Daemon.BPFFS,
		StateDir:  c.Daemon.StateDir,
		Mode:      i.Mode,
		Mechanism: i.Mechanism,
	}
}

// OnExit is what the daemon does when a plugin's process exits.
type OnExit string

// Crash policies.
const (
	// Keep leaves the program in the chain with its maps (the default).
	Keep OnExit = "keep"
	// Detach removes the plugin's program from the chain.
	Detach OnExit = "detach"
	// Restart relaunches the plugin with bounded exponential backoff, then
	// keeps its program.
	Restart OnExit = "restart"
)

// Plugin is one [[plugin]]: a plugin process and the program it provides.
type Plugin struct {
	Name    string
	Command string // absolute
	Args    []string
	// SHA256 is the expected hex digest of Command, checked before every
	// start; empty skips the check.
	SHA256     string
	Interfaces []string // interface Refs
	// Priority and ProceedOn override what the plugin describes when set.
	Priority  *int
	ProceedOn *dispatcher.VerdictSet
	// Placement (before/after) puts the program next to another one of
	// the chain instead of a priority.
	Placement chain.Placement
	OnExit    OnExit
	// User runs the process as this user (name or number); empty runs it as
	// the daemon's user.
	User string
	// AllowedVerdicts limits the verdicts the program may return; zero
	// allows all.
	AllowedVerdicts dispatcher.VerdictSet
	// Settings is the [plugin.settings] table, handed to the plugin.
	Settings map[string]any
	Line     int
}

// Program is one [[program]]: a plain BPF object without a plugin process.
type Program struct {
	Name   string
	Object string // absolute path of the ELF object; empty with XSK
	// Program is the function in Object; empty when Object has one XDP
	// program.
	Program string
	// XSK (xsk = true) is xdpchain's built-in AF_XDP program
	// (dispatcher.XSKProgram) instead of an object.
	XSK        bool
	Interfaces []string // interface Refs
	// Priority and ProceedOn override the object's .xdp_run_config when set.
	Priority  *int
	ProceedOn *dispatcher.VerdictSet
	// Placement (before/after) puts the program next to another one of
	// the chain instead of a priority.
	Placement       chain.Placement
	AllowedVerdicts dispatcher.VerdictSet
	Shadow          bool
	Line            int
}

// Grant is one [[grant]]: it lets a non-root user (or the members of a
// group) load and unload their own programs through the control socket.
type Grant struct {
	User  string // as written; empty when the grant names only a group
	Group string // as written; empty when the grant names only a user
	// UID and GID are User and Group resolved, or -1.
	UID, GID    int
	Interfaces  []string // interface Refs
	PriorityMin int
	PriorityMax int
	// Verdicts are the verdicts the user's programs may return.
	Verdicts dispatcher.VerdictSet
	Line     int
}

// Interface returns the interface with the given Ref, or nil.
func (c *Config) Interface(ref string) *Interface {
	for i := range c.Interfaces {
		if c.Interfaces[i].Ref() == ref {
			return &c.Interfaces[i]
		}
	}
	return nil
}

// Plugin returns the plugin called name, or nil.
func (c *Config) Plugin(name string) *Plugin {
	for i := range c.Plugins {
		if c.Plugins[i].Name == name {
			return &c.Plugins[i]
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// OnInterface reports whether the plugin runs on the interface ref.
func (p *Plugin) OnInterface(ref string) bool { return contains(p.Interfaces, ref) }

// OnInterface reports whether the program runs on the interface ref.
func (p *Program) OnInterface(ref string) bool { return contains(p.Interfaces, ref) }

// OnInterface reports whether the grant covers the interface ref.
func (g *Grant) OnInterface(ref string) bool { return contains(g.Interfaces, ref) }
