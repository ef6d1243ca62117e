package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/pflag"

	"github.com/xdpchain/xdpchain/config"
)

// The daemon's config file is where the CLI learns the daemon's paths: a
// client that looked elsewhere than the daemon would report another world.
const (
	// defaultConfig is the config file when neither --config nor
	// XDPCHAIN_CONFIG names one; it is used only when it exists.
	defaultConfig = "/etc/xdpchain/config.toml"
	// configEnv names a config file as --config does.
	configEnv = "XDPCHAIN_CONFIG"
)

// errNoConfig: the config file named by --config or XDPCHAIN_CONFIG (or
// the default one, for run and plan) does not exist.
var errNoConfig = errors.New("config file not found")

// configFile is the config file in force and who named it.
type configFile struct {
	path string
	// from is "--config", "XDPCHAIN_CONFIG" or "default".
	from string
	// exists is false only for the default file, which may be absent.
	exists bool
}

// configFile finds the config file: --config, else XDPCHAIN_CONFIG, else
// the default one. A file named by the flag or the variable must exist;
// required makes the default one required too (run and plan).
func (e *cliEnv) configFile(required bool) (configFile, error) {
	cf := configFile{path: defaultConfig, from: "default"}
	if e.defaultConfig != "" {
		cf.path = e.defaultConfig
	}
	switch {
	case e.flags != nil && e.flags.Changed("config"):
		cf = configFile{path: e.config, from: "--config"}
	case e.getenv(configEnv) != "":
		cf = configFile{path: e.getenv(configEnv), from: configEnv}
	}
	_, err := os.Stat(cf.path)
	switch {
	case err == nil:
		cf.exists = true
		return cf, nil
	case !errors.Is(err, fs.ErrNotExist):
		return cf, fmt.Errorf("config file %s (%s): %w", cf.path, cf.from, err)
	case cf.from == "default" && !required:
		return cf, nil
	case cf.from == "default":
		return cf, fmt.Errorf("%w: %s (the default; name one with --config or %s)", errNoConfig, cf.path, configEnv)
	default:
		return cf, fmt.Errorf("%w: %s (from %s)", errNoConfig, cf.path, cf.from)
	}
}

// locate sets the socket, bpffs and state directory the verbs use: each
// flag given wins, else the config file's [daemon] value, else the
// default. It runs once, before the first use of those paths.
func (e *cliEnv) locate() error {
	if e.located {
		return nil
	}
	cf, err := e.configFile(false)
	if err != nil {
		return err
	}
	e.source = cf
	if cf.exists {
		d, err := config.LoadDaemon(cf.path)
		if err != nil {
			return fmt.Errorf("reading the daemon's paths from %s (%s): %w", cf.path, cf.from, err)
		}
		for _, p := range []struct {
			flag string
			dst  *string
			val  string
		}{{"socket", &e.socket, d.Socket}, {"bpffs", &e.bpffs, d.BPFFS}, {"state-dir", &e.state, d.StateDir}} {
			if e.flags == nil || !e.flags.Changed(p.flag) {
				*p.dst = p.val
			}
		}
	}
	e.located = true
	return nil
}

// looked says where the last verb looked, for "not found" errors: the
// daemon it asked, or the pins and state it read, and where those paths
// came from.
func (e *cliEnv) looked() string {
	var where string
	if e.remote {
		where = "asked the daemon at " + e.socket
	} else {
		where = fmt.Sprintf("looked in bpffs %s and state dir %s", e.bpffs, e.state)
		if !e.noDaemon {
			where += "; no daemon at " + e.socket
		}
	}
	switch {
	case e.source.exists:
		where += fmt.Sprintf("; paths from %s (%s)", e.source.path, e.source.from)
	case e.source.path != "":
		where += fmt.Sprintf("; default paths, no %s", e.source.path)
	}
	return where
}

func (e *cliEnv) getenv(k string) string {
	if e.env != nil {
		return e.env(k)
	}
	return os.Getenv(k)
}

// registerPaths adds the global flags that locate the daemon.
func registerPaths(fl *pflag.FlagSet, env *cliEnv) {
	env.flags = fl
	fl.StringVarP(&env.config, "config", "c", defaultConfig, "the daemon's config file: run and plan apply it, the other verbs take socket, bpffs and state_dir from it (also "+configEnv+"; the default only when it exists)")
}
