package api

import (
	"time"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Status is what the daemon reports: every interface with an xdpchain root
// under its bpffs (the dispatcher's status, whose programs carry their
// owners and versions) and the state of every plugin process. Its JSON form
// is part of what `xdpchain status --json` prints.
type Status struct {
	// Config is the config file in force.
	Config     string                       `json:"config"`
	Interfaces []dispatcher.InterfaceStatus `json:"interfaces"`
	Plugins    []PluginStatus               `json:"plugins"`
	// SettingsSalt salts the digests that stand for secret settings (see
	// daemon.RedactSettings); random per daemon.
	SettingsSalt string `json:"settings_salt,omitempty"`
}

// Process states of a plugin instance, as Status reports them.
const (
	StateRunning    = "running"    // the process runs; its program is in the chain
	StateExited     = "exited"     // it exited; on_exit keep: the program stays
	StateDetached   = "detached"   // it exited; on_exit detach: the program left the chain
	StateRestarting = "restarting" // it exited; on_exit restart: waiting to relaunch
	StateFailed     = "failed"     // restart attempts used up: the program stays
	StateStopped    = "stopped"    // the daemon stopped it (shutdown)
)

// PluginStatus is the state of one plugin instance: the process that serves
// one interface.
type PluginStatus struct {
	Name string `json:"name"`
	// Interface is the config's Ref of the interface: NAME or NETNS/NAME.
	Interface string `json:"interface"`
	// State is one of the State* constants.
	State string `json:"state"`
	// PID is the process's ID in the PID namespace whose inode is
	// PIDNamespace: the daemon's (a daemon in a container sees its own
	// numbers); `xdpchain status` translates it into the viewer's.
	PID          int    `json:"pid,omitempty"`
	PIDNamespace uint64 `json:"pid_namespace,omitempty"`
	Version      string `json:"version,omitempty"`
	OnExit       string `json:"on_exit"`
	// Restarts counts consecutive restarts.
	Restarts int `json:"restarts"`
	// Since is when the current (or last) process started.
	Since     time.Time `json:"since,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Health is the last background health check's error, if any.
	Health string `json:"health,omitempty"`
	// Settings are the settings the running process has (reported to root
	// callers only), the values of the keys the plugin marks secret
	// (SecretSettings) redacted (daemon.RedactSettings).
	Settings       map[string]any `json:"settings,omitempty"`
	SecretSettings []string       `json:"secret_settings,omitempty"`
}

// Process returns the plugin instance behind a program of an interface's
// status, or nil when the program is not a plugin's (or no longer managed).
func (s *Status) Process(itf *dispatcher.InterfaceStatus, prog *dispatcher.ProgramStatus) *PluginStatus {
	ref := chain.NewInterface(itf.NetNS, itf.Name).String()
	for i := range s.Plugins {
		p := &s.Plugins[i]
		if chain.PluginOwner(p.Name).String() == prog.Owner && p.Interface == ref {
			return p
		}
	}
	return nil
}

// ReloadResult is what a reload applied.
type ReloadResult struct {
	// Config is the file read.
	Config string
	// Interfaces, Plugins and Programs count the config's entries.
	Interfaces, Plugins, Programs int
	// RestartOnly are [daemon] settings the file changed that take effect
	// only when the daemon restarts (the running values stay).
	RestartOnly []string
}
