package host

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MapAccess selects how the plugin reaches its maps.
type MapAccess string

const (
	// MapAccessAuto: the plugin opens the pins and falls back to the
	// broker when it cannot. With Options.User set, Auto means Broker.
	MapAccessAuto MapAccess = "auto"
	// MapAccessDirect: the plugin must open the pins itself.
	MapAccessDirect MapAccess = "direct"
	// MapAccessBroker: every map operation goes through the host.
	MapAccessBroker MapAccess = "broker"
)

// DefaultStartTimeout bounds the handshake and Describe when
// Options.StartTimeout is zero.
const DefaultStartTimeout = 10 * time.Second

// Options configure one plugin process.
type Options struct {
	// Name is the plugin's name in the config: its chain entry's name, and
	// its owner is "plugin:<Name>". Required.
	Name string
	// Command is the plugin binary (a path, or a name looked up in PATH).
	Command string
	// Args are the binary's arguments.
	Args []string
	// Env is added to the daemon's environment for the process.
	Env []string
	// SHA256 is the binary's expected sha256 in hex. When set it is checked
	// before the process starts (ErrChecksum).
	SHA256 string
	// User runs the process as this user with its primary group: a name, a
	// numeric uid, or "uid:gid". Empty: the daemon's user.
	User string
	// Settings is the [plugin.settings] table; it must marshal to a JSON
	// object.
	Settings map[string]any
	// StartTimeout bounds the handshake and Describe. Default
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// MapAccess: how the plugin reaches its maps. Default MapAccessAuto.
	MapAccess MapAccess
	// HealthInterval, when positive, runs Health in the background at this
	// interval; see Plugin.LastHealth.
	HealthInterval time.Duration
	// RequestTimeout bounds how long a plugin's request (replace, settings)
	// waits for the daemon's Reply. Default one minute.
	RequestTimeout time.Duration
	// Logger receives everything the plugin process logs, each record at its
	// level with the attribute plugin=<Name>: the records it writes with
	// sdk.Logger (their attributes kept), every other line of its stderr
	// and stdout (at info, attribute stream), and go-plugin's own records on
	// both sides (attribute logger). Warnings and errors of go-plugin's
	// transport while Kill stops the process are logged at debug. The
	// plugin is told the lowest level Logger handles (XDPCHAIN_PLUGIN_LOG_LEVEL in its environment). Default:
	// a text handler on LogOutput.
	Logger *slog.Logger
	// LogOutput, when Logger is nil, receives the same records as slog
	// text at info and above. Default: discarded.
	LogOutput io.Writer
}

// logger is Logger, or a text logger on LogOutput, or nil, with the
// plugin's name.
func (o *Options) logger() *slog.Logger {
	l := o.Logger
	if l == nil {
		if o.LogOutput == nil {
			return nil
		}
		l = slog.New(slog.NewTextHandler(o.LogOutput, nil))
	}
	return l.With("plugin", o.Name)
}

// credential is the resolved Options.User.
type credential struct {
	uid, gid uint32
}

func (o *Options) validate() error {
	if o.Name == "" {
		return fmt.Errorf("%w: no name", ErrInvalidOptions)
	}
	if o.Command == "" {
		return fmt.Errorf("%w: plugin %s: no command", ErrInvalidOptions, o.Name)
	}
	if o.SHA256 != "" {
		b, err := hex.DecodeString(o.SHA256)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("%w: plugin %s: sha256 %q is not 64 hex digits", ErrInvalidOptions, o.Name, o.SHA256)
		}
	}
	switch o.MapAccess {
	case "", MapAccessAuto, MapAccessDirect, MapAccessBroker:
	default:
		return fmt.Errorf("%w: plugin %s: map access %q (want auto, direct or broker)", ErrInvalidOptions, o.Name, o.MapAccess)
	}
	if _, err := settingsJSON(o.Settings); err != nil {
		return fmt.Errorf("%w: plugin %s: %w", ErrInvalidOptions, o.Name, err)
	}
	return nil
}

func (o *Options) startTimeout() time.Duration {
	if o.StartTimeout > 0 {
		return o.StartTimeout
	}
	return DefaultStartTimeout
}

func (o *Options) requestTimeout() time.Duration {
	if o.RequestTimeout > 0 {
		return o.RequestTimeout
	}
	return time.Minute
}

func (o *Options) mapAccess() MapAccess {
	if o.MapAccess == "" || o.MapAccess == MapAccessAuto {
		if o.User != "" {
			return MapAccessBroker
		}
		return MapAccessAuto
	}
	return o.MapAccess
}

func settingsJSON(s map[string]any) ([]byte, error) {
	if s == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	return b, nil
}

// resolveUser resolves Options.User: "uid:gid" (numbers, no lookup), a
// numeric uid (its group from the user database, or gid = uid when the
// database does not know it), or a user name.
func resolveUser(name string) (*credential, error) {
	if u, g, ok := strings.Cut(name, ":"); ok {
		uid, uerr := strconv.ParseUint(u, 10, 32)
		gid, gerr := strconv.ParseUint(g, 10, 32)
		if uerr != nil || gerr != nil {
			return nil, fmt.Errorf("%w: user %q: want uid:gid in numbers", ErrInvalidOptions, name)
		}
		return &credential{uid: uint32(uid), gid: uint32(gid)}, nil
	}
	var (
		u   *user.User
		err error
	)
	if uid, perr := strconv.ParseUint(name, 10, 32); perr == nil {
		if u, err = user.LookupId(name); err != nil {
			return &credential{uid: uint32(uid), gid: uint32(uid)}, nil
		}
	} else if u, err = user.Lookup(name); err != nil {
		return nil, fmt.Errorf("%w: user %q: %w", ErrInvalidOptions, name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: user %q: uid %q", ErrInvalidOptions, name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: user %q: gid %q", ErrInvalidOptions, name, u.Gid)
	}
	return &credential{uid: uint32(uid), gid: uint32(gid)}, nil
}

// command builds the exec.Cmd, resolving the binary and the user.
func (o *Options) command() (*exec.Cmd, error) {
	path, err := exec.LookPath(o.Command)
	if err != nil {
		return nil, fmt.Errorf("%w: plugin %s: %w", ErrInvalidOptions, o.Name, err)
	}
	cmd := exec.Command(path, o.Args...)
	cmd.Env = append(cmd.Env, o.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if o.User != "" {
		cred, err := resolveUser(o.User)
		if err != nil {
			return nil, err
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: cred.uid, Gid: cred.gid, Groups: []uint32{}}
	}
	return cmd, nil
}
