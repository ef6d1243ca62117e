package config

import "strings"

// IsPattern reports whether an [[interface]] name is a glob (path.Match
// syntax: "eth*", "ens?", "veth[0-9]*"): it stands for every interface of
// its network namespace whose name matches, and the daemon gives each its
// chain, also to those that appear later.
func IsPattern(name string) bool { return strings.ContainsAny(name, `*?[\`) }
