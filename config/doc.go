// Package config reads and validates xdpchain's configuration file,
// config.toml: the daemon's settings, the interfaces it manages, the plugins
// and plain BPF programs it keeps in their chains, and the grants that let
// non-root users load their own programs through the control socket.
//
// Load never touches the kernel. Every problem it finds is reported, not
// only the first, each as "file:line: key: message" (an *Error); the errors
// are joined with errors.Join and all unwrap to ErrInvalid.
//
// The schema is documented in docs/config.md; the repository's config.toml is
// a working example.
package config
