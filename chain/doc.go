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
//   - Load and Unload are the edit operations: loading (refused for a name
//     in use unless Replace), placement before or after another program,
//     and the expected revision (compare-and-swap on the chain's revision).
//     They edit a dispatcher.Spec and are pure: the caller runs them inside
//     dispatcher.Root.Update, locally or in the daemon.
//
// The package knows nothing of sockets or pins; it depends on dispatcher
// only for its Program, Spec and verdict types.
package chain
