package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/plugins/host"
)

// EnvCheck is set (to "1") in the environment of a plugin process that
// `xdpchain run --check` starts: it is asked to describe itself and to
// validate its settings (a plugin without Validate is configured with them
// against scratch copies of its maps, never the live ones), and stopped.
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
// leave it a verdict, asks it to validate its settings — a plugin without
// Validate is configured with them against scratch copies of its maps in
// a private bpffs (configureScratch) — and stops it. No chain, live pin or
// live map is touched. Problems come back joined, each a *config.Error at
// the [[plugin]]'s line (file as opts.ConfigPath, or the config's File);
// notes list the plugins whose settings could not be checked (no Validate,
// and no privileges for scratch maps).
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
		if errors.Is(err, host.ErrNotValidated) {
			// No Validate: Configure decides, against scratch maps.
			err = configureScratch(ctx, proc, p.Settings)
		}
		proc.Kill()
		var refused *host.SettingsError
		switch {
		case err == nil:
		case errors.As(err, &refused):
			errs = append(errs, problem(".settings", "refused by plugin "+p.Name+": "+refused.Reason))
		case errors.Is(err, dispatcher.ErrPrivilege):
			notes = append(notes, problem(".settings", "not checked: plugin "+p.Name+" does not validate settings, and configuring it against scratch maps needs root").Error())
		default:
			errs = append(errs, problem(".settings", pluginError(p.Name, p.Interfaces[0], err).Error()))
		}
	}
	return notes, errors.Join(errs...)
}

// configureScratch checks settings with the plugin's Configure, for a
// plugin that does not implement Validate: its maps are fresh copies in a
// private bpffs (dispatcher.ScratchMaps), never the live ones, so whatever
// Configure writes serves no traffic and is gone after. A refusal is a
// *host.SettingsError with the plugin's reason.
func configureScratch(ctx context.Context, proc *host.Plugin, settings map[string]any) error {
	prog := proc.Program()
	scratch, err := dispatcher.NewScratchMaps(prog.Object, prog.ProgramName)
	if err != nil {
		return fmt.Errorf("scratch maps for checking the settings: %w", err)
	}
	defer scratch.Close()
	if err := proc.SetSettings(settings); err != nil {
		return err
	}
	err = proc.Configure(ctx, scratch.Maps)
	if errors.Is(err, host.ErrConfigure) && !errors.Is(err, host.ErrExited) {
		// The plugin's reason, after "plugin NAME: configuring plugin: ".
		_, reason, _ := strings.Cut(err.Error(), host.ErrConfigure.Error()+": ")
		return &host.SettingsError{Plugin: proc.Name(), Reason: reason}
	}
	return err
}
