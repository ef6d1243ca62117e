package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// observation is one run of dump, profile or trace: the observer, and the
// context that ends it (--duration, Ctrl-C, SIGTERM).
type observation struct {
	client.Observer
	ctx  context.Context
	done func()
}

// observe starts observing an interface for a verb: through the daemon when
// one answers, else on the pins, with a guard process that ends the
// observation if this one dies without ending it (SIGKILL).
func (e *cliEnv) observe(cmd *cobra.Command, netns, iface string, p dispatcher.Probe, duration time.Duration) (*observation, error) {
	if err := adoptConfig(cmd, e); err != nil {
		return nil, err
	}
	if duration < 0 {
		return nil, fmt.Errorf("%w: --duration %v is negative", dispatcher.ErrInvalid, duration)
	}
	c, _, closeClient, err := e.connect()
	if err != nil {
		return nil, err
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cancel := func() {}
	if duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, duration)
	}
	release := func() { cancel(); stopSignals(); closeClient() }
	o, err := c.Observe(ctx, chain.NewInterface(netns, iface), p)
	if err != nil {
		release()
		return nil, err
	}
	stopGuard := func() {}
	if lease := o.Lease(); lease != nil && e.guard != "" {
		if stopGuard, err = e.startGuard(netns, iface, lease); err != nil {
			o.Close()
			release()
			return nil, err
		}
	}
	return &observation{Observer: o, ctx: ctx, done: func() { stopGuard(); release() }}, nil
}

// end ends the observation; ended by the context (duration, signal) is no
// error.
func (o *observation) end() error {
	err := o.Close()
	o.done()
	return err
}

// finished reports whether err means the observation's context ended (its
// duration, a signal): a normal end.
func (o *observation) finished(err error) bool {
	return o.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrClosed))
}

// registerCount adds -c/--count to a capturing verb, as tcpdump has it.
// Elsewhere -c is the global --config: here the verb carries its own
// --config (without the shorthand) in its place, and adoptConfig hands
// its value to the global one.
func registerCount(cmd *cobra.Command, count *int) {
	f := cmd.Flags()
	f.IntVarP(count, "count", "c", 0, "stop after COUNT packets (0: no limit)")
	f.String("config", defaultConfig, "the daemon's config file, as the global --config (-c is --count here)")
}

// adoptConfig passes a verb's own --config (registerCount) to the global
// flag.
func adoptConfig(cmd *cobra.Command, env *cliEnv) error {
	if f := cmd.Flags().Lookup("config"); f != nil && f.Changed && env.flags != nil {
		return env.flags.Set("config", f.Value.String())
	}
	return nil
}

// startGuard starts `xdpchain observe-guard`: it holds the lease with this
// process, waits for this process to end (its stdin, a pipe only this
// process writes, reaches EOF) and then rebuilds the chain without the
// probes of observers that are gone. stop lets it go when this process
// ended the observation itself.
func (e *cliEnv) startGuard(netns, iface string, lease *os.File) (stop func(), err error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := exec.Command(e.guard, "--bpffs", e.bpffs, "--state-dir", e.state, "--no-daemon", "observe-guard", "--netns", netns, iface)
	cmd.Stdin = pr
	cmd.ExtraFiles = []*os.File{lease}
	// Its own process group: a Ctrl-C meant for the observer does not
	// reach the guard.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("starting the observation's guard: %w", err)
	}
	go cmd.Wait() // reaps it
	return func() { pw.Close() }, nil
}

// newGuardCmd is the hidden observe-guard verb (startGuard).
func newGuardCmd(env *cliEnv) *cobra.Command {
	var netns string
	cmd := &cobra.Command{
		Use:    "observe-guard [--netns NS] IFACE",
		Short:  "End an observation whose observer died (started by dump, profile and trace)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			io.Copy(io.Discard, bufio.NewReader(os.Stdin)) // until the observer ends
			// The inherited lease: gone (unlinked) when the observer
			// ended the observation itself; then nothing is left to do.
			var st unix.Stat_t
			err := unix.Fstat(3, &st)
			os.NewFile(3, "lease").Close()
			if err != nil || st.Nlink == 0 {
				return nil
			}
			if err := env.locate(); err != nil {
				return err
			}
			r, err := dispatcher.Open(args[0], &dispatcher.Options{NetNS: netns, BPFFS: env.bpffs, StateDir: env.state})
			if err != nil {
				return err
			}
			defer r.Close()
			return r.EndObservations()
		},
	}
	cmd.Flags().StringVar(&netns, "netns", "", "network namespace of IFACE")
	return cmd
}
