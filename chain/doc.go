// Package chain is the vocabulary of a chain edit, shared by the CLI, the
// daemon's control socket, the daemon's reconcile and the plugin host:
//
//   - Interface names an interface: its network namespace and its name, in
//     one canonical form ("eth0", "NETNS/eth0").
//   - Owner says who put a program in a chain (plugin:NAME, config:NAME,
//     user:UID), parsed and printed here, and MayChange is the one rule for
//     who may replace or remove whose program.
//   - Overrides are the priority, proceed-on, allowed and shadow settings
//     that a command line or a config section lays over a program's own
//     defaults, with one Apply rule.
//   - Load, Unload and Sync are the edit operations: loading (refused for
//     a name in use unless Replace), placement before or after another
//     program, and the expected revision (compare-and-swap on the chain's
//     revision). Sync is the daemon's reconcile: the programs it owns
//     become exactly what its config says, every other owner's stay. They
//     edit a dispatcher.Spec and are pure: the caller runs them inside
//     dispatcher.Root.Update.
//   - Adopt and Leave hand a program attached by netlink to a root and
//     back (AdoptOn, LeaveOn).
//   - LoadRequest is a load as the CLI and the control socket carry it (the
//     object, overrides, placement, expected revision); Loaded and Unloaded
//     report the outcome.
//
// The operations themselves touch no kernel object; the executors of
// exec.go (OpenForLoad, LoadOn, UnloadOn, DetachOn and SyncOn) run them on
// an interface's dispatcher.Root, each one Root.Update: the local client
// and the daemon's socket server run the first four, the daemon's
// reconcile, drift repair and plugin requests SyncOn. The package knows
// nothing of sockets: package client has the local and remote clients.
package chain
