package contract

import "testing"

func TestVersionedPlugins(t *testing.T) {
	sets := VersionedPlugins(&GRPCPlugin{})
	if len(sets) != 1 || sets[ProtocolVersion][PluginName] == nil {
		t.Fatalf("plugin sets %v", sets)
	}
	if Handshake.ProtocolVersion != ProtocolVersion || Handshake.MagicCookieKey == "" || Handshake.MagicCookieValue == "" {
		t.Errorf("handshake %+v", Handshake)
	}
}
