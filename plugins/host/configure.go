package host

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// Configure sends the plugin its settings and its maps: map name (as in the
// plugin's object) to pin path, as dispatcher's Root.ProgramMaps returns
// them, for a plugin on one interface. A nil maps keeps the maps of the
// previous Configure. The host opens the maps itself to serve them over the
// broker. Errors wrap ErrConfigure (the plugin refused, or a map could not
// be opened) or ErrExited.
func (p *Plugin) Configure(ctx context.Context, maps map[string]string) error {
	if maps == nil {
		return p.ConfigureInterfaces(ctx, nil)
	}
	return p.ConfigureInterfaces(ctx, map[string]map[string]string{"": maps})
}

// ConfigureInterfaces is Configure for a plugin on several interfaces: maps
// holds each interface's copy of the plugin's maps (interface name -> map
// name -> pin path). The plugin sees them all (sdk.Maps.Interfaces); writes
// through sdk.Maps.Map reach every copy. A nil maps keeps the previous maps.
func (p *Plugin) ConfigureInterfaces(ctx context.Context, maps map[string]map[string]string) error {
	p.configuring.Lock()
	defer p.configuring.Unlock()
	select {
	case <-p.exited:
		return fmt.Errorf("plugin %s: configuring: %w%s", p.opts.Name, ErrExited, p.stderrSuffix())
	default:
	}
	if maps != nil {
		if err := p.maps.set(maps); errors.Is(err, ErrExited) {
			return fmt.Errorf("plugin %s: configuring: %w%s", p.opts.Name, ErrExited, p.stderrSuffix())
		} else if err != nil {
			return fmt.Errorf("plugin %s: %w: %w", p.opts.Name, ErrConfigure, err)
		}
	}
	id, err := p.serveHost()
	if err != nil {
		return fmt.Errorf("plugin %s: %w: %w", p.opts.Name, ErrConfigure, err)
	}
	p.mu.Lock()
	p.generation++
	req := &pluginpb.ConfigureRequest{
		SettingsJson: append([]byte(nil), p.settings...),
		Maps:         p.maps.handles(),
		BrokerId:     id,
		Access:       accessProto(p.opts.mapAccess()),
		Generation:   p.generation,
	}
	p.mu.Unlock()
	if _, err := p.pc.Plugin.Configure(ctx, req); err != nil {
		return p.rpcError("configuring", ErrConfigure, ctx, err)
	}
	return nil
}

// ConfigureSettings is SetSettings followed by Configure with the previous
// maps: what the daemon does when a plugin's settings change on SIGHUP.
func (p *Plugin) ConfigureSettings(ctx context.Context, settings map[string]any) error {
	if err := p.SetSettings(settings); err != nil {
		return err
	}
	return p.Configure(ctx, nil)
}

func accessProto(a MapAccess) pluginpb.MapAccess {
	switch a {
	case MapAccessDirect:
		return pluginpb.MapAccess_MAP_ACCESS_DIRECT
	case MapAccessBroker:
		return pluginpb.MapAccess_MAP_ACCESS_BROKER
	}
	return pluginpb.MapAccess_MAP_ACCESS_AUTO
}

// Validate asks the plugin whether it would accept settings, without
// applying them: the settings in force and the maps stay as they are. It
// works before the first Configure. Errors: a *SettingsError (ErrSettings)
// with the plugin's reason; ErrNotValidated when the plugin cannot tell
// (then only Configure checks the settings); ErrExited.
func (p *Plugin) Validate(ctx context.Context, settings map[string]any) error {
	b, err := settingsJSON(settings)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p.opts.Name, err)
	}
	_, err = p.pc.Plugin.Validate(ctx, &pluginpb.ValidateRequest{SettingsJson: b})
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.InvalidArgument:
			return &SettingsError{Plugin: p.opts.Name, Reason: st.Message()}
		case codes.Unimplemented:
			return fmt.Errorf("plugin %s: %w", p.opts.Name, ErrNotValidated)
		}
	}
	if perr := p.rpcError("validating settings", ErrSettings, ctx, err); errors.Is(perr, ErrExited) {
		return perr
	}
	return fmt.Errorf("plugin %s: validating settings: %w", p.opts.Name, err)
}
