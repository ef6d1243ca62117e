// Package daemon is xdpchain's config-driven daemon, `xdpchain run`: it keeps
// the chains of the interfaces in config.toml in line with the file, runs
// and supervises plugin processes, and serves a control API on a unix socket
// through which root and granted users load and unload their own programs.
//
// # Ownership
//
// Every program in a chain has an owner: "plugin:NAME" and "config:NAME" for
// what the daemon runs from its config, "user:UID" for what a user loaded
// (through the socket, or with the CLI when no daemon runs). The daemon
// manages only what it owns: the chain it applies to an interface is "what I
// own from the config" together with every other owner's programs,
// untouched. It never removes a program another owner loaded, except when
// root asks with force.
//
// # Reconciling
//
// On start and on every reload (SIGHUP, the config file's watcher, or the
// socket's Reload request that `xdpchain reload` sends: one at a time in
// the daemon's loop, triggers queued together coalesced into one, see
// reload.go) the daemon starts the plugins the config adds or changes, reads every program object, and changes each
// interface's chain with one atomic swap (dispatcher.Root.Update), several
// interfaces at once (apply.go: applyChains). If any step fails, nothing changes: interfaces already swapped are swapped back,
// new plugin processes are stopped, and the previous config stays in force.
//
// # Self-healing
//
// Between reloads, a drift watcher (drift.go) re-applies an interface's
// chain when its root is gone (detached from outside, or the interface
// deleted and created again with a new ifindex) or lacks the daemon's
// programs. Link events (one netlink subscription per network namespace the
// config names) trigger a check of the interface they name; so does the
// root watch (Options.RootWatchInterval), which asks the kernel about each
// root's link (one BPF_OBJ_GET_INFO_BY_FD) for a detach from outside or a
// chain changed by another process; every interface is also checked in
// full periodically, as a backstop (Options.DriftInterval). The heal
// is the one-interface reconcile that plugin events use (planFor,
// applyPlan), on a new root when needed; running plugins there are
// configured again with their new maps. A chain in line with the config is
// not swapped.
//
// # Plugins
//
// A plugin runs as one process per interface it is configured on, so each
// process owns exactly one chain entry and that entry's maps, and a crash
// touches one slot. When a process exits, its plugin's on_exit policy
// applies: keep (the program stays, with its maps), detach (the program
// leaves the chain), restart (relaunch with bounded exponential backoff;
// when the attempts are used up, keep). A plugin's requests (replace my
// program, change my settings) are atomic swaps of its own entry only.
//
// Stopping the daemon (SIGTERM, or cancelling Run's context) stops the
// plugin processes and leaves every program serving traffic.
//
// # Control socket
//
// The API (controlpb) is served over gRPC on a unix socket of mode 0660
// whose group the config names. Callers are identified by SO_PEERCRED. Use
// Dial for a Client. Through it the CLI's verbs run with the caller's
// grants, and its observers (dump, profile, trace) take their leases
// (observe.go).
//
// # Service manager and monitoring
//
// The daemon tells a service manager where it is (sd_notify: READY,
// RELOADING, STOPPING; notify.go), answers /healthz and /readyz, and exports
// the chains' counters and its own state as Prometheus metrics (metrics.go).
// With [daemon] profile_sample it holds a sampled profile of each interface
// after every apply and repair and exports it too (profile.go).
package daemon
