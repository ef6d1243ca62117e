package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// writePcap writes frames as a libpcap file (Ethernet).
func writePcap(t *testing.T, frames ...[]byte) string {
	t.Helper()
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, 1)
	for _, f := range frames {
		b = append(b, make([]byte, 8)...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	path := filepath.Join(t.TempDir(), "frames.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExplainCLI: `xdpchain explain` prints how the current chain decides
// a frame given as hex or from a pcap file, as text and as JSON.
func TestExplainCLI(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		ns := c.recv.Name
		c.mustRun(t, "load", "--netns", ns, "--mechanism", string(mech), c.iface(), c.obj(testprogs.DropPort))
		c.mustRun(t, "load", "--netns", ns, "--name", "noop", c.iface(), c.obj(testprogs.Noop))
		src := netip.MustParseAddrPort("192.0.2.1:1000")
		drop := testutil.UDPPacket(src, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), testprogs.DropPortDefault), []byte("x"))
		pass := testutil.UDPPacket(src, netip.MustParseAddrPort("192.0.2.2:9"), []byte("x"))

		out := c.mustRun(t, "explain", "--netns", ns, "--packet", hex.EncodeToString(drop), c.iface())
		if !strings.Contains(out, "dropport") || !strings.Contains(out, "decides") || !strings.Contains(out, "verdict drop, decided by dropport") {
			t.Errorf("explain of a dropped frame:\n%s", out)
		}
		out = c.mustRun(t, "explain", "--json", "--netns", ns, "--pcap", writePcap(t, drop, pass), "--index", "1", c.iface())
		var ex struct {
			Verdict   string `json:"verdict"`
			DecidedBy string `json:"decided_by"`
			Slots     []struct{ Name, Verdict, Action string }
		}
		if err := json.Unmarshal([]byte(out), &ex); err != nil {
			t.Fatalf("explain --json: %v\n%s", err, out)
		}
		if ex.Verdict != "pass" || ex.DecidedBy != "(fall-through)" || len(ex.Slots) != 2 || ex.Slots[0].Action != "continue" {
			t.Errorf("explain --json of a passing frame: %+v", ex)
		}
		for _, bad := range [][]string{
			{"explain", "--netns", ns, c.iface()},
			{"explain", "--netns", ns, "--packet", "zz", c.iface()},
			{"explain", "--netns", ns, "--pcap", writePcap(t, pass), "--index", "3", c.iface()},
		} {
			c.mustFail(t, bad...)
		}
	})
}
