package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/xdpchain/xdpchain/plugins/internal/contract"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// Start starts the plugin binary, completes the handshake and asks the
// plugin to describe itself. The handshake and Describe each must finish
// within Options.StartTimeout; ctx bounds Describe too (go-plugin's
// handshake cannot be interrupted). Errors wrap ErrInvalidOptions, ErrChecksum,
// ErrHandshake, ErrStartTimeout, ErrExited or ErrDescribe.
func Start(ctx context.Context, opts Options) (_ *Plugin, err error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	cmd, err := opts.command()
	if err != nil {
		return nil, err
	}
	var secure *plugin.SecureConfig
	if opts.SHA256 != "" {
		want, _ := hex.DecodeString(opts.SHA256)
		secure = &plugin.SecureConfig{Checksum: want, Hash: sha256.New()}
	}
	logs := newPluginLogs(opts.logger())
	cmd.Env = append(cmd.Env, contract.EnvLogLevel+"="+logs.minLevel())
	stderr, syncStderr, syncStdout := logs.output("stderr"), logs.output("stderr"), logs.output("stdout")
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:     contract.Handshake,
		VersionedPlugins:    contract.VersionedPlugins(&contract.GRPCPlugin{}),
		Cmd:                 cmd,
		SecureConfig:        secure,
		AllowedProtocols:    []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:            true,
		Managed:             true,
		StartTimeout:        opts.startTimeout(),
		GRPCBrokerMultiplex: true,
		Stderr:              stderr,
		SyncStderr:          syncStderr,
		SyncStdout:          syncStdout,
		Logger:              logs.hclog(filepath.Base(cmd.Path)),
	})
	defer func() {
		if err != nil {
			client.Kill()
		}
	}()
	rpc, err := client.Client()
	if err != nil {
		// Kill waits for the process and for its stderr to be copied, so
		// the error can quote what the plugin said before it died.
		client.Kill()
		stderr.Flush()
		return nil, classifyStartError(&opts, cmd.Path, logs.tail, err)
	}
	p, err := newPlugin(opts, client, rpc, logs)
	if err != nil {
		return nil, err
	}
	go p.watchExit()
	if err := p.describe(ctx); err != nil {
		p.Kill()
		return nil, err
	}
	p.startHealthLoop()
	return p, nil
}

// classifyStartError turns go-plugin's start errors into ours.
func classifyStartError(opts *Options, path string, stderr *tailWriter, err error) error {
	msg := err.Error()
	withStderr := func() string {
		if s := stderr.String(); s != "" {
			return "; plugin stderr: " + s
		}
		return ""
	}
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		got := "unreadable"
		if b, rerr := os.ReadFile(path); rerr == nil {
			sum := sha256.Sum256(b)
			got = hex.EncodeToString(sum[:])
		}
		return fmt.Errorf("starting plugin %s: %w: %s has sha256 %s, config wants %s", opts.Name, ErrChecksum, path, got, strings.ToLower(opts.SHA256))
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("starting plugin %s: %w (%s): no handshake from %s%s", opts.Name, ErrStartTimeout, opts.startTimeout(), path, withStderr())
	case strings.Contains(msg, "plugin exited before we could connect"),
		strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		return fmt.Errorf("starting plugin %s: %w: %w before the handshake (not an xdpchain plugin, or a wrong magic cookie?)%s",
			opts.Name, ErrHandshake, ErrExited, withStderr())
	case strings.Contains(msg, "ncompatible API version"),
		strings.Contains(msg, "ncompatible core API version"),
		strings.Contains(msg, "Unrecognized remote plugin message"),
		strings.Contains(msg, "unsupported plugin protocol"),
		strings.Contains(msg, "gRPC broker multiplexing"):
		return fmt.Errorf("starting plugin %s: %w: %s%s", opts.Name, ErrHandshake, firstLine(msg), withStderr())
	}
	return fmt.Errorf("starting plugin %s: %w%s", opts.Name, err, withStderr())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// newPlugin wraps a connected go-plugin client. client may be nil (in-process
// tests).
func newPlugin(opts Options, client *plugin.Client, rpc plugin.ClientProtocol, logs *pluginLogs) (*Plugin, error) {
	raw, err := rpc.Dispense(contract.PluginName)
	if err != nil {
		return nil, fmt.Errorf("starting plugin %s: %w: dispensing: %w", opts.Name, ErrHandshake, err)
	}
	pc, ok := raw.(*contract.Client)
	if !ok {
		return nil, fmt.Errorf("starting plugin %s: %w: unexpected client %T", opts.Name, ErrHandshake, raw)
	}
	settings, _ := settingsJSON(opts.Settings)
	if logs == nil {
		logs = newPluginLogs(opts.logger())
	}
	return &Plugin{
		opts:     opts,
		client:   client,
		rpc:      rpc,
		pc:       pc,
		logs:     logs,
		stderr:   logs.tail,
		exited:   make(chan struct{}),
		stop:     make(chan struct{}),
		requests: make(chan *Request),
		settings: settings,
		maps:     newMapTable(),
	}, nil
}

func (p *Plugin) describe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.startTimeout())
	defer cancel()
	d, err := p.pc.Plugin.Describe(ctx, &pluginpb.DescribeRequest{})
	if err != nil {
		return p.rpcError("describing", ErrDescribe, ctx, err)
	}
	desc, err := descriptionFromProto(d)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p.opts.Name, err)
	}
	p.mu.Lock()
	p.desc = desc
	p.mu.Unlock()
	return nil
}

// watchExit closes p.exited when the process exits, and kills it when
// p.stop is closed.
func (p *Plugin) watchExit() {
	if p.client == nil {
		<-p.stop
	} else {
		t := time.NewTicker(50 * time.Millisecond)
		for !p.client.Exited() {
			select {
			case <-t.C:
			case <-p.stop:
				p.client.Kill()
			}
		}
		t.Stop()
	}
	p.stopOnce.Do(func() { close(p.stop) })
	p.maps.closeAll()
	p.logs.flush()
	close(p.exited)
}
