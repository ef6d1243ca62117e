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
//
// The operations themselves touch no kernel object; OpenForLoad, LoadOn,
// UnloadOn and DetachOn run them on an interface's dispatcher.Root (the
// local client and the daemon's socket server both do). The package knows
// nothing of sockets: package client has the local and remote clients.
package chain
