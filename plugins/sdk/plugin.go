package sdk

import (
	"context"
	"fmt"
	"strings"

	"github.com/xdpchain/xdpchain/xdp"
)

// Plugin is implemented by a plugin author and passed to Serve.
type Plugin interface {
	// Describe returns what the plugin puts into the chain. It is called
	// once, before Configure.
	Describe() Description
	// Configure applies the settings. maps holds the plugin's own maps (those
	// of the object Describe returned); host lets the plugin ask the daemon
	// for changes. Configure is called again with new settings or maps; maps
	// of the same name are the same *Map across calls. Returning an error
	// tells the daemon the settings were not applied.
	Configure(ctx context.Context, settings Settings, maps *Maps, host *Host) error
	// Health returns nil when the plugin is well.
	Health(ctx context.Context) error
}

// Validator is implemented by a plugin that can check settings without
// applying them. The daemon calls Validate on reload, before it applies
// anything (a refusal changes nothing: no chain is swapped, no plugin is
// configured), and for `xdpchain run --check`, in a process that may never
// be configured (no maps). Validate must not touch maps or the settings in
// force. Configure must still refuse whatever Validate refuses: the
// examples call one function from both.
//
// A plugin without Validate (or built with an SDK before it) is not
// validated in advance: its settings are checked when Configure applies
// them, as before, and `--check` says it could not check them.
type Validator interface {
	Validate(ctx context.Context, settings Settings) error
}

// Verdict is an XDP action: xdp.Verdict, which is also dispatcher.Verdict.
// The SDK takes it from package xdp, which imports neither netlink nor the
// dispatcher.
type Verdict = xdp.Verdict

// The XDP actions.
const (
	Aborted  = xdp.Aborted
	Drop     = xdp.Drop
	Pass     = xdp.Pass
	TX       = xdp.TX
	Redirect = xdp.Redirect
)

// verdictBits encodes verdicts as the plugin protocol sends them: an
// xdp.VerdictSet (bit n is verdict n), which is also dispatcher.VerdictSet.
func verdictBits(vs []Verdict) uint32 { return uint32(xdp.NewVerdictSet(vs...)) }

// Description is a plugin's self-description.
type Description struct {
	// Name of the plugin, e.g. "blocklist".
	Name string
	// Version of the plugin, e.g. "1.0.0".
	Version string
	// Object is the BPF ELF object, usually go:embed'ded.
	Object []byte
	// ProgramName is the XDP function in Object.
	ProgramName string
	// Priority is the default priority in the chain (lower runs first). Zero
	// means the dispatcher's default (50). The config file may override it.
	Priority int
	// ProceedOn lists the verdicts on which the chain continues after this
	// program. Nil means the default ([Pass]). The config may override it.
	ProceedOn []Verdict
	// Allowed lists the verdicts the program may return; the dispatcher turns
	// any other into XDP_ABORTED. Nil means every verdict.
	Allowed []Verdict
	// Frags is true when the program handles multi-buffer packets.
	Frags bool
	// SecretSettings are the keys of the settings table whose values are
	// secret (a token, a password): the daemon never shows them, in
	// status or `xdpchain plan`, only whether they changed.
	SecretSettings []string
}

func (d Description) validate() error {
	var problems []string
	if d.Name == "" {
		problems = append(problems, "empty name")
	}
	if len(d.Object) == 0 {
		problems = append(problems, "no BPF object")
	}
	if d.ProgramName == "" {
		problems = append(problems, "no program name")
	}
	for _, v := range append(append([]Verdict(nil), d.ProceedOn...), d.Allowed...) {
		if !v.Valid() {
			problems = append(problems, fmt.Sprintf("unknown verdict %d", v))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid description: %s", strings.Join(problems, ", "))
	}
	return nil
}
