package host

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/dispatcher"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// RequestKind says what a plugin asks for.
type RequestKind int

const (
	// RequestReplace: replace the plugin's program with a new object.
	RequestReplace RequestKind = iota + 1
	// RequestSettings: change the plugin's settings.
	RequestSettings
)

func (k RequestKind) String() string {
	switch k {
	case RequestReplace:
		return "replace"
	case RequestSettings:
		return "settings"
	}
	return fmt.Sprintf("request(%d)", int(k))
}

// Request is a plugin's request to the daemon, delivered on
// Plugin.Requests. The daemon performs it (one atomic chain swap) or not and
// answers with Reply exactly once.
type Request struct {
	Kind RequestKind
	// Plugin is the name of the plugin that asks.
	Plugin string
	// Object, ProgramName and Version: the new program (RequestReplace).
	Object      []byte
	ProgramName string
	Version     string
	// Settings: the new settings (RequestSettings).
	Settings map[string]any

	p     *Plugin
	reply chan error
}

// Program returns the chain entry the plugin asks for (RequestReplace):
// the plugin's current Program with the new object, program name and
// version.
func (r *Request) Program() dispatcher.Program {
	prog := r.p.Program()
	prog.Object, prog.ProgramName = r.Object, r.ProgramName
	if r.Version != "" {
		prog.Version = r.Version
	}
	return prog
}

// Reply answers the request: nil accepts it, an error refuses it and is
// shown to the plugin. Accepting a replace updates the plugin's
// Description; accepting a settings change makes them the settings of the
// next Configure (call Configure(ctx, nil) after Reply to apply them — not
// before, the plugin is still waiting for this answer). Only the first Reply
// counts.
func (r *Request) Reply(err error) {
	if err == nil {
		r.p.mu.Lock()
		switch r.Kind {
		case RequestReplace:
			r.p.desc.Object, r.p.desc.ProgramName = r.Object, r.ProgramName
			if r.Version != "" {
				r.p.desc.Version = r.Version
			}
		case RequestSettings:
			r.p.settings, _ = settingsJSON(r.Settings)
		}
		r.p.mu.Unlock()
	}
	select {
	case r.reply <- err:
	default:
	}
}

// hostServer serves the plugin's requests over the broker.
type hostServer struct {
	pluginpb.UnimplementedHostServer
	p *Plugin
}

func (s *hostServer) deliver(ctx context.Context, r *Request) error {
	r.p, r.Plugin, r.reply = s.p, s.p.opts.Name, make(chan error, 1)
	timeout := time.NewTimer(s.p.opts.requestTimeout())
	defer timeout.Stop()
	select {
	case s.p.requests <- r:
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-s.p.stop:
		return status.Error(codes.Unavailable, "plugin is stopping")
	case <-timeout.C:
		return status.Errorf(codes.DeadlineExceeded, "the daemon did not take the %s request within %s", r.Kind, s.p.opts.requestTimeout())
	}
	select {
	case err := <-r.reply:
		if err != nil {
			return status.Error(codes.FailedPrecondition, err.Error())
		}
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-s.p.stop:
		return status.Error(codes.Unavailable, "plugin is stopping")
	case <-timeout.C:
		return status.Errorf(codes.DeadlineExceeded, "the daemon did not answer the %s request within %s", r.Kind, s.p.opts.requestTimeout())
	}
}

func (s *hostServer) RequestReplace(ctx context.Context, req *pluginpb.ReplaceRequest) (*pluginpb.HostResponse, error) {
	if len(req.GetObject()) == 0 || req.GetProgramName() == "" {
		return nil, status.Error(codes.InvalidArgument, "a replacement needs an object and a program name")
	}
	r := &Request{Kind: RequestReplace, Object: req.GetObject(), ProgramName: req.GetProgramName(), Version: req.GetVersion()}
	if err := s.deliver(ctx, r); err != nil {
		return nil, err
	}
	return &pluginpb.HostResponse{}, nil
}

func (s *hostServer) RequestSettings(ctx context.Context, req *pluginpb.SettingsRequest) (*pluginpb.HostResponse, error) {
	var settings map[string]any
	if err := json.Unmarshal(req.GetSettingsJson(), &settings); err != nil || settings == nil {
		return nil, status.Error(codes.InvalidArgument, "settings must be a JSON object")
	}
	r := &Request{Kind: RequestSettings, Settings: settings}
	if err := s.deliver(ctx, r); err != nil {
		return nil, err
	}
	return &pluginpb.HostResponse{}, nil
}
