package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon"
)

func newRunCmd(env *cliEnv) *cobra.Command {
	var (
		check    bool
		logLevel string
		logJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "run --config FILE [--check]",
		Short: "Run the daemon: keep the interfaces of a config file in line with it",
		Long: `run starts the xdpchain daemon. It applies the config file (each interface's
chain changed with one atomic swap), starts and supervises the plugins,
and serves the control socket. SIGHUP reloads the file: a file that does not
validate, or any load that fails, changes nothing. SIGTERM stops the plugin
processes and leaves every program serving traffic.

With --check it only validates the file (and that the commands and objects
it names exist) and starts each plugin once to have it validate its
settings, without touching the kernel: no chain, pin or map changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cf, err := env.configFile(true)
			if err != nil {
				return err
			}
			path := cf.path
			cfg, err := loadConfig(env, path)
			if err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			if check && !cmd.Flags().Changed("log-level") {
				// The plugins' own warnings show; the rest of a check's
				// log is noise.
				level = slog.LevelWarn
			}
			hopts := &slog.HandlerOptions{Level: level}
			var h slog.Handler = slog.NewTextHandler(env.stderr, hopts)
			if logJSON {
				h = slog.NewJSONHandler(env.stderr, hopts)
			}

			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if check {
				notes, err := daemon.Check(ctx, cfg, daemon.Options{ConfigPath: path, Logger: slog.New(h)})
				for _, n := range notes {
					fmt.Fprintln(env.stderr, n)
				}
				if _, err := daemon.CheckSocket(cfg.Daemon.Socket); errors.Is(err, daemon.ErrSocketPath) {
					fmt.Fprintf(env.stderr, "warning: %v: the daemon refuses to start until it is gone\n", err)
				}
				if err != nil {
					return problems(env, path, err)
				}
				fmt.Fprintf(env.stdout, "%s: ok (%d interfaces, %d plugins, %d programs, %d grants)\n",
					path, len(cfg.Interfaces), len(cfg.Plugins), len(cfg.Programs), len(cfg.Grants))
				return nil
			}
			ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reload := make(chan struct{}, 1)
			go func() {
				for range hup {
					select {
					case reload <- struct{}{}:
					default: // a reload is already pending
					}
				}
			}()
			return daemon.Run(ctx, cfg, daemon.Options{
				ConfigPath: path,
				Logger:     slog.New(h),
				Reload:     reload,

				WatchConfig: true, // a changed config file reloads, as SIGHUP does
			})
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "validate the config file and the plugins' settings, and exit; the kernel is not touched")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().BoolVar(&logJSON, "log-json", false, "log in JSON")
	return cmd
}

// loadConfig loads and checks a config file (see problems).
func loadConfig(env *cliEnv, path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err == nil {
		err = cfg.CheckFiles()
	}
	if err == nil {
		return cfg, nil
	}
	return nil, problems(env, path, err)
}

// problems returns err, or with several problems prints each on its own
// line, since the CLI's error is one line.
func problems(env *cliEnv, path string, err error) error {
	errs := config.Errors(err)
	if len(errs) <= 1 {
		return err
	}
	for _, e := range errs {
		fmt.Fprintln(env.stderr, e)
	}
	return fmt.Errorf("%s: %d problems (listed above)", path, len(errs))
}
