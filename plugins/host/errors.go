package host

import "errors"

// Sentinel errors. Start and the Plugin methods wrap them; test with
// errors.Is.
var (
	// ErrInvalidOptions: Options are incomplete or malformed.
	ErrInvalidOptions = errors.New("invalid plugin options")
	// ErrChecksum: the binary's sha256 is not the configured one; the
	// binary was not started.
	ErrChecksum = errors.New("plugin binary checksum mismatch")
	// ErrHandshake: the process is not a compatible xdpchain plugin (wrong
	// magic cookie, protocol version or wire protocol).
	ErrHandshake = errors.New("plugin handshake failed")
	// ErrStartTimeout: the plugin did not complete the handshake, or did not
	// describe itself, within the start timeout.
	ErrStartTimeout = errors.New("plugin did not answer within the start timeout")
	// ErrExited: the plugin process exited.
	ErrExited = errors.New("plugin process exited")
	// ErrDescribe: the plugin's description is unusable.
	ErrDescribe = errors.New("plugin description invalid")
	// ErrConfigure: the plugin refused its settings or maps.
	ErrConfigure = errors.New("configuring plugin")
	// ErrSettings: the plugin refused settings it was asked to validate
	// (Plugin.Validate; a *SettingsError gives its reason).
	ErrSettings = errors.New("settings refused")
	// ErrNotValidated: the plugin cannot check settings before applying
	// them (it does not implement sdk.Validator, or was built before it).
	ErrNotValidated = errors.New("the plugin does not validate settings before applying them")
	// ErrUnhealthy: the plugin reports that it is not well, or does not
	// answer health checks.
	ErrUnhealthy = errors.New("plugin unhealthy")
)

// SettingsError is a plugin's refusal of settings it was asked to
// validate. It matches ErrSettings.
type SettingsError struct {
	Plugin string // Options.Name
	Reason string // the plugin's own message
}

func (e *SettingsError) Error() string {
	return "plugin " + e.Plugin + ": " + ErrSettings.Error() + ": " + e.Reason
}

func (e *SettingsError) Is(target error) bool { return target == ErrSettings }
