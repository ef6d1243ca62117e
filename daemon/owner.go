package daemon

import (
	"os/user"
	"strconv"
	"strings"
)

// Owner prefixes. An owner string is PREFIX + ":" + NAME.
const (
	ownerPlugin = "plugin"
	ownerConfig = "config"
	ownerUser   = "user"
)

// PluginOwner is the owner of a plugin's chain entry.
func PluginOwner(name string) string { return ownerPlugin + ":" + name }

// ConfigOwner is the owner of a [[program]]'s chain entry.
func ConfigOwner(name string) string { return ownerConfig + ":" + name }

// UserOwner is the owner of a program a user loaded.
func UserOwner(uid uint32) string { return ownerUser + ":" + strconv.FormatUint(uint64(uid), 10) }

// daemonOwned reports whether the daemon manages programs of this owner:
// those it runs from its config.
func daemonOwned(owner string) bool {
	kind, name, ok := strings.Cut(owner, ":")
	return ok && name != "" && (kind == ownerPlugin || kind == ownerConfig)
}

// ownedBy reports whether owner is the user uid: "user:UID", or
// "user:NAME" with NAME that uid's login name (what the CLI records).
func ownedBy(owner string, uid uint32) bool {
	kind, who, ok := strings.Cut(owner, ":")
	if !ok || kind != ownerUser {
		return false
	}
	if who == strconv.FormatUint(uint64(uid), 10) {
		return true
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	return err == nil && u.Username == who
}
