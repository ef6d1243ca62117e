package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/plugins/host"
)

// EnvCheck is set (to "1") in the environment of a plugin process that
// `xdpchain run --check` starts: it is asked to describe itself and to
// validate its settings, never configured, and stopped.
const EnvCheck = "XDPCHAIN_CHECK"

// instanceError is an error about one plugin instance, naming it once:
// plugins/host's errors already start with "plugin NAME: " (or "starting
// plugin NAME: "), which the daemon's "plugin NAME on IFACE: " replaces.
type instanceError struct {
	plugin, iface string
	err           error
}

func pluginError(plugin, iface string, err error) error {
	return &instanceError{plugin: plugin, iface: iface, err: err}
}

func (e *instanceError) Error() string {
	msg := e.err.Error()
	if rest, ok := strings.CutPrefix(msg, "starting plugin "+e.plugin+": "); ok {
		msg = "starting: " + rest
	} else {
		msg = strings.TrimPrefix(msg, "plugin "+e.plugin+": ")
	}
	return fmt.Sprintf("plugin %s on %s: %s", e.plugin, e.iface, msg)
}

func (e *instanceError) Unwrap() error { return e.err }

// validate asks every process that is to get settings in this apply (those
// it started, and running ones whose settings changed) to check them
// before anything is applied, so that a refusal changes nothing: no chain
// is swapped, no plugin configured. A plugin that cannot validate
// (host.ErrNotValidated) is checked by Configure when the settings are
// applied, as before.
func (t *txn) validate(ctx context.Context, fresh []*instance, next map[instKey]*instance) error {
	check := func(in *instance, settings map[string]any) error {
		err := in.proc.Validate(ctx, settings)
		if err == nil || errors.Is(err, host.ErrNotValidated) {
			return nil
		}
		return pluginError(in.cfg.Name, in.key.iface, err)
	}
	for _, in := range fresh {
		if err := check(in, in.cfg.Settings); err != nil {
			return err
		}
	}
	for _, old := range t.settings {
		if err := check(old, next[old.key].cfg.Settings); err != nil {
			return err
		}
	}
	return nil
}

// Check is `xdpchain run --check` for the plugins: it starts each
// [[plugin]]'s process once (for its first interface, with EnvCheck set),
// checks that it describes itself and that the config's allowed_verdicts
// leave it a verdict, asks it to validate its settings, and stops it. No
// chain, pin or map is touched. Problems come back joined, each a
// *config.Error at the [[plugin]]'s line (file as opts.ConfigPath, or the
// config's File); notes list the plugins that cannot validate settings
// before applying them (their settings are checked only when applied).
func Check(ctx context.Context, cfg *config.Config, opts Options) (notes []string, err error) {
	d := New(cfg, opts)
	file := d.opts.ConfigPath
	var errs []error
	for i := range cfg.Plugins {
		p := &cfg.Plugins[i]
		if len(p.Interfaces) == 0 {
			continue
		}
		problem := func(key, msg string) *config.Error {
			return &config.Error{File: file, Line: p.Line, Key: fmt.Sprintf("plugin[%d]%s", i, key), Msg: msg}
		}
		po := d.processOptions(p, instKey{p.Name, p.Interfaces[0]}, nil)
		po.HealthInterval = 0
		po.Env = append(po.Env, EnvCheck+"=1")
		proc, err := host.Start(ctx, po)
		if err != nil {
			errs = append(errs, problem("", pluginError(p.Name, p.Interfaces[0], err).Error()))
			continue
		}
		if _, err := pluginProgram(p, proc.Program()); err != nil {
			errs = append(errs, problem(".allowed_verdicts", strings.TrimPrefix(err.Error(), "plugin "+p.Name+": ")))
		}
		err = proc.Validate(ctx, p.Settings)
		proc.Kill()
		var refused *host.SettingsError
		switch {
		case err == nil:
		case errors.As(err, &refused):
			errs = append(errs, problem(".settings", "refused by plugin "+p.Name+": "+refused.Reason))
		case errors.Is(err, host.ErrNotValidated):
			notes = append(notes, problem(".settings", "not checked: plugin "+p.Name+" does not validate settings before applying them").Error())
		default:
			errs = append(errs, problem(".settings", pluginError(p.Name, p.Interfaces[0], err).Error()))
		}
	}
	return notes, errors.Join(errs...)
}
