package chain

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/xdp"
)

// Sentinel errors of chain edits; test with errors.Is.
var (
	// ErrPermission: the caller may not do this (no grant covers it, or the
	// program belongs to someone else). It is xdp.ErrPermission.
	ErrPermission = xdp.ErrPermission
	// ErrOwned: a program of that name belongs to another owner; root may
	// force.
	ErrOwned = errors.New("program belongs to another owner")
	// ErrStale: the chain's revision is not the one the edit expected; the
	// edit changed nothing.
	ErrStale = errors.New("chain is stale")
	// ErrExists: a program of that name is in the chain and the edit did
	// not ask to replace it (LoadRequest.Replace).
	ErrExists = errors.New("program already loaded")
	// ErrForceable: an ErrOwned that the actor (root) may override by
	// forcing (LoadRequest.Force, Unload.Force). Its text is never shown:
	// the error's message is the ErrOwned's.
	ErrForceable = errors.New("root may force")
	// ErrNothingNamed: an Unload names no program and does not ask for all.
	ErrNothingNamed = errors.New("name the programs to remove, or all")
)

// forceable is an ErrOwned that also wraps ErrForceable; its message is the
// ErrOwned's.
type forceable struct{ error }

func (e forceable) Unwrap() []error { return []error{e.error, ErrForceable} }

// OwnerKind is what kind of party owns a program.
type OwnerKind string

// Owner kinds. Plugin and config programs are the daemon's: they follow its
// config file.
const (
	OwnerPlugin OwnerKind = "plugin"
	OwnerConfig OwnerKind = "config"
	OwnerUser   OwnerKind = "user"
)

// Owner records who put a program in a chain. Its string form, KIND:NAME,
// is what dispatcher.Program.Owner holds.
type Owner struct {
	Kind OwnerKind
	// Name is the plugin's or [[program]]'s name, or the user's uid (or,
	// as older CLIs recorded it, login name).
	Name string
}

// PluginOwner is the owner of a plugin's chain entry.
func PluginOwner(name string) Owner { return Owner{OwnerPlugin, name} }

// ConfigOwner is the owner of a [[program]]'s chain entry.
func ConfigOwner(name string) Owner { return Owner{OwnerConfig, name} }

// UserOwner is the owner of a program a user loaded.
func UserOwner(uid uint32) Owner {
	return Owner{OwnerUser, strconv.FormatUint(uint64(uid), 10)}
}

// ParseOwner parses KIND:NAME. The empty string is the zero Owner: a
// program with no recorded owner.
func ParseOwner(s string) (Owner, error) {
	if s == "" {
		return Owner{}, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	o := Owner{OwnerKind(kind), name}
	switch {
	case !ok || name == "":
		return Owner{}, fmt.Errorf("%w: owner %q: want KIND:NAME", dispatcher.ErrInvalid, s)
	case o.Kind != OwnerPlugin && o.Kind != OwnerConfig && o.Kind != OwnerUser:
		return Owner{}, fmt.Errorf("%w: owner %q: unknown kind %q (want plugin, config or user)", dispatcher.ErrInvalid, s, kind)
	}
	return o, nil
}

// String is KIND:NAME, or "" for the zero Owner.
func (o Owner) String() string {
	if o == (Owner{}) {
		return ""
	}
	return string(o.Kind) + ":" + o.Name
}

// describe names the owner in an error message.
func (o Owner) describe() string {
	if o == (Owner{}) {
		return "no recorded owner"
	}
	return o.String()
}

// Managed reports whether the daemon manages programs of this owner: those
// it runs from its config (plugins and [[program]]s).
func (o Owner) Managed() bool { return o.Kind == OwnerPlugin || o.Kind == OwnerConfig }

// IsUser reports whether the owner is the user uid: "user:UID", or
// "user:NAME" with NAME that uid's login name.
func (o Owner) IsUser(uid uint32) bool {
	if o.Kind != OwnerUser {
		return false
	}
	id := strconv.FormatUint(uint64(uid), 10)
	if o.Name == id {
		return true
	}
	u, err := user.LookupId(id)
	return err == nil && u.Username == o.Name
}

// Actor is who edits a chain.
type Actor struct {
	// UID is the user's uid (0: root).
	UID uint32
	// Daemon is set for the daemon's own edits (its reconcile): it changes
	// the programs it manages and no others.
	Daemon bool
}

// Owner is the owner of what the actor loads (the daemon's programs name
// their own owners).
func (a Actor) Owner() Owner { return UserOwner(a.UID) }

// MayChange is the one rule for who may replace or remove a program of
// owner (the string dispatcher.Program.Owner holds):
//
//   - the daemon changes the programs it manages (plugin and config owners)
//     and no others: ErrOwned;
//   - a user changes their own programs; programs the daemon manages follow
//     its config and are changed there: ErrOwned for root, ErrPermission
//     for anyone else;
//   - root with force changes any other program (another user's, or one with
//     no recorded owner); without force ErrOwned (and ErrForceable), and
//     ErrPermission for anyone but root.
func MayChange(a Actor, owner string, force bool) error {
	o, err := ParseOwner(owner)
	if err != nil {
		o = Owner{Kind: OwnerKind(owner)} // unparseable: nobody's but root's with force
	}
	switch {
	case a.Daemon:
		if o.Managed() {
			return nil
		}
		return fmt.Errorf("%w (%s); not replacing it", ErrOwned, o.describe())
	case o.IsUser(a.UID):
		return nil
	case o.Managed():
		if a.UID == 0 {
			return fmt.Errorf("%w (%s): it follows the daemon's config; change the config", ErrOwned, o)
		}
		return fmt.Errorf("%w: the program belongs to %s", ErrPermission, o)
	case a.UID == 0 && force:
		return nil
	case a.UID == 0:
		return forceable{fmt.Errorf("%w (%s)", ErrOwned, o.describe())}
	default:
		return fmt.Errorf("%w: the program belongs to %s", ErrPermission, o.describe())
	}
}

// Managed reports whether the owner string names an owner the daemon
// manages (see Owner.Managed).
func Managed(owner string) bool {
	o, err := ParseOwner(owner)
	return err == nil && o.Managed()
}
