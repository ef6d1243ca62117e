package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// The observation tests' chain: [first counter, dropper (drops UDP to
// dropPort), last counter], and a port that passes.
const (
	dropPort  = testprogs.DropPortDefault
	otherPort = 8888
)

func (c *cli) observedChain(t *testing.T) {
	t.Helper()
	ns, m := c.recv.Name, string(c.mech)
	c.mustRun(t, "load", "--netns", ns, "--mechanism", m, "--name", "first", "--priority", "5", c.iface(), c.obj(testprogs.Counter))
	c.mustRun(t, "load", "--netns", ns, "--name", "dropper", c.iface(), c.obj(testprogs.DropPort))
	c.mustRun(t, "load", "--netns", ns, "--name", "last", "--priority", "60", c.iface(), c.obj(testprogs.Counter))
}

// rootInstructions returns the running dispatcher's instructions as the
// kernel translated them.
func (c *cli) rootInstructions(t *testing.T) string {
	t.Helper()
	return testutil.Instructions(t, func() uint32 { return uint32(c.status(t)["dispatcher_id"].(float64)) })
}

// counts returns each program's counters from status --json.
func (c *cli) counts(t *testing.T) map[string]map[string]float64 {
	t.Helper()
	out := map[string]map[string]float64{}
	for _, p := range programs(c.status(t)) {
		st := map[string]float64{}
		for k, v := range p["stats"].(map[string]any) {
			st[k] = v.(float64)
		}
		out[p["name"].(string)] = st
	}
	return out
}

// observer is an xdpchain dump, profile or trace running as its own
// process (its guard, observe-guard, is this binary too).
type observer struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

// startObserver runs the binary with args and returns once it says that
// the observation runs (its first line on stderr).
func (c *cli) startObserver(t *testing.T, bin string, stdout io.Writer, args ...string) *observer {
	t.Helper()
	return c.startObserverVia(t, bin, []string{"--no-daemon"}, stdout, args...)
}

// startObserverVia is startObserver with global flags (the daemon's
// socket, say) besides the test's pins.
func (c *cli) startObserverVia(t *testing.T, bin string, global []string, stdout io.Writer, args ...string) *observer {
	t.Helper()
	o := &observer{done: make(chan error, 1)}
	o.cmd = exec.Command(bin, append(append([]string{"--bpffs", c.bpffs, "--state-dir", c.stateDir}, global...), args...)...)
	o.cmd.Stdout = &o.stdout
	if stdout != nil {
		o.cmd.Stdout = stdout
	}
	pr, err := o.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan string, 1)
	go func() {
		rd := bufio.NewReader(pr)
		line, _ := rd.ReadString('\n')
		o.stderr.WriteString(line)
		started <- line
		io.Copy(&o.stderr, rd)
		o.done <- o.cmd.Wait()
	}()
	t.Cleanup(func() { o.cmd.Process.Kill() })
	select {
	case line := <-started:
		if !strings.Contains(line, "Ctrl-C") {
			<-o.done
			t.Fatalf("xdpchain %s: %q%s", strings.Join(args, " "), line, o.stderr.String()[len(line):])
		}
	case <-time.After(time.Minute):
		t.Fatalf("xdpchain %s did not start observing within a minute", strings.Join(args, " "))
	}
	return o
}

// wait waits for the observer to exit and fails unless it exited 0.
func (o *observer) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-o.done:
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(o.cmd.Args, " "), err, o.stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s did not end within a minute:\n%s", strings.Join(o.cmd.Args, " "), o.stderr.String())
	}
}

// stop interrupts the observer (Ctrl-C) and waits for it.
func (o *observer) stop(t *testing.T) {
	t.Helper()
	o.cmd.Process.Signal(os.Interrupt)
	o.wait(t)
}

// readPcap returns the UDP destination ports of a pcap file as tcpdump
// reads it, and checks that tshark reads the same where it is installed
// (the VMs have tcpdump only); non-UDP packets (IPv6 neighbour discovery
// the kernel sends by itself) are left out.
func readPcap(t *testing.T, path string) []int {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil && vmtest.InVM() {
		t.Logf("no tcpdump in this VM: %s read with gopacket's pcapgo", path)
		return readPcapGo(t, path)
	}
	td, err := exec.Command("tcpdump", "-n", "-r", path, "udp").Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v", path, err)
	}
	var ports []int
	for _, line := range strings.Split(strings.TrimSpace(string(td)), "\n") {
		// 16:45:00.742536 IP 10.77.0.1.45310 > 10.77.0.2.9999: UDP, length 5
		_, dst, ok := strings.Cut(line, " > ")
		if !ok {
			continue
		}
		dst, _, _ = strings.Cut(dst, ":")
		n, err := strconv.Atoi(dst[strings.LastIndexByte(dst, '.')+1:])
		if err != nil {
			t.Fatalf("tcpdump printed %q", line)
		}
		ports = append(ports, n)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Logf("no tshark here: %s read with tcpdump only", path)
		return ports
	}
	out, err := exec.Command("tshark", "-r", path, "-Y", "udp", "-T", "fields", "-e", "udp.dstport").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	if got := strings.Join(strings.Fields(string(out)), ","); got != strings.Trim(strings.Join(strings.Fields(fmt.Sprint(ports)), ","), "[]") {
		t.Errorf("tshark reads UDP to ports %s from %s, tcpdump %v", got, path, ports)
	}
	return ports
}

// readPcapGo returns the UDP destination ports of a pcap file (IPv4 and
// IPv6) as gopacket's pcapgo reads it.
func readPcapGo(t *testing.T, path string) []int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var ports []int
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			return ports
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			ports = append(ports, int(udp.DstPort))
		}
	}
}

// TestDumpCLI: dump of the dropper's drops gets exactly the 25 datagrams
// to the dropped port, and, at once, a dump of the last program's input
// only the 25 to another port; both pcaps read with tshark and tcpdump;
// the counters count as unobserved; the root runs the plain generation's
// instructions afterwards; -w - streams into tcpdump -r -.
func TestDumpCLI(t *testing.T) {
	vmtest.LogWhere(t)
	bin := testutil.XDPChainBinary(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		c.observedChain(t)
		ns, dir := c.recv.Name, t.TempDir()
		plain := c.rootInstructions(t)
		before := c.counts(t)

		drops := filepath.Join(dir, "drops.pcap")
		input := filepath.Join(dir, "input.pcap")
		d := c.startObserver(t, bin, nil, "dump", "--netns", ns, c.iface(), "--program", "dropper", "--verdict", "drop", "-c", "25", "-w", drops)
		in := c.startObserver(t, bin, nil, "dump", "--netns", ns, c.iface(), "--program", "last", "--at", "input", "-w", input)
		if c.rootInstructions(t) == plain {
			t.Fatal("the chain runs the plain generation while observed")
		}
		if got := c.udp(t, dropPort, 25, false); got != 0 {
			t.Errorf("%d datagrams to the dropped port arrived", got)
		}
		if got := c.udp(t, otherPort, 25, true); got != 25 {
			t.Errorf("%d of 25 datagrams to port %d arrived", got, otherPort)
		}
		d.wait(t) // -c 25
		in.stop(t)
		if ports := readPcap(t, drops); len(ports) != 25 || slices.ContainsFunc(ports, func(p int) bool { return p != dropPort }) {
			t.Errorf("dump of the drops: UDP to ports %v, want 25 to %d", ports, dropPort)
		}
		if ports := readPcap(t, input); len(ports) != 25 || slices.ContainsFunc(ports, func(p int) bool { return p != otherPort }) {
			t.Errorf("dump of the last program's input: UDP to ports %v, want the 25 to %d", ports, otherPort)
		}
		if !strings.Contains(d.stderr.String(), "25 packets captured, 0 dropped") {
			t.Errorf("dump says %q", d.stderr.String())
		}

		after := c.counts(t)
		diff := func(prog, col string) float64 { return after[prog][col] - before[prog][col] }
		if diff("dropper", "drop") != 25 || diff("first", "pass") < 50 || diff("first", "pass") != diff("dropper", "pass")+25 || diff("last", "pass") != diff("dropper", "pass") {
			t.Errorf("counters moved from %v to %v: want 25 drops by the dropper and every other packet passed by all", before, after)
		}
		if got := c.rootInstructions(t); got != plain {
			t.Errorf("after the dumps the root runs\n%s\nwant the plain generation's\n%s", got, plain)
		}
		if got := names(c.status(t)); fmt.Sprint(got) != "[first dropper last]" {
			t.Errorf("chain after the dumps: %v", got)
		}

		// -w - into tcpdump -r -.
		if _, err := exec.LookPath("tcpdump"); err != nil && vmtest.InVM() {
			t.Logf("no tcpdump in this VM: -w - into tcpdump -r - not tried")
			return
		}
		td := exec.Command("tcpdump", "-n", "-r", "-", "udp")
		var tdOut bytes.Buffer
		td.Stdout = &tdOut
		pipe, err := td.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := td.Start(); err != nil {
			t.Fatal(err)
		}
		s := c.startObserver(t, bin, pipe, "dump", "--netns", ns, c.iface(), "--program", "dropper", "--verdict", "drop", "-c", "5", "-w", "-")
		c.udp(t, dropPort, 5, false)
		s.wait(t)
		pipe.Close()
		if err := td.Wait(); err != nil {
			t.Fatalf("tcpdump -r -: %v", err)
		}
		if got := strings.Count(tdOut.String(), fmt.Sprintf(".%d: UDP", dropPort)); got != 5 {
			t.Errorf("tcpdump -r - read %d datagrams to %d from dump -w -:\n%s", got, dropPort, tdOut.String())
		}
	})
}

// names lists the programs of a status entry in slot order.
func names(itf map[string]any) []string {
	var out []string
	for _, p := range programs(itf) {
		out = append(out, p["name"].(string))
	}
	return out
}

// TestProfileCLI: profile of a chain of a cheap program and one that does
// about a hundred times its work per packet, under traffic, reports both
// with packets, the costly one at least 5 times the cheap one; --json
// parses.
func TestProfileCLI(t *testing.T) {
	vmtest.LogWhere(t)
	bin := testutil.XDPChainBinary(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		ns := c.recv.Name
		c.mustRun(t, "load", "--netns", ns, "--mechanism", string(mech), "--name", "cheap", c.iface(), c.obj(testprogs.Noop))
		c.mustRun(t, "load", "--netns", ns, "--name", "costly", "--priority", "60", c.iface(), c.obj(testprogs.Costly))
		plain := c.rootInstructions(t)
		// The duration bounds the run; the test stops it with Ctrl-C once
		// the traffic went through.
		p := c.startObserver(t, bin, nil, "profile", "--netns", ns, "--json", "--duration", "10m", c.iface())
		if got := c.udp(t, otherPort, 200, true); got != 200 {
			t.Errorf("%d of 200 datagrams arrived", got)
		}
		p.stop(t)
		var doc struct {
			Interface string  `json:"interface"`
			Duration  float64 `json:"duration_s"`
			Programs  []struct {
				Name        string  `json:"name"`
				Slot        int     `json:"slot"`
				Packets     uint64  `json:"packets"`
				NsPerPacket float64 `json:"ns_per_packet"`
				P50         float64 `json:"p50_ns"`
				P99         float64 `json:"p99_ns"`
			} `json:"programs"`
		}
		if err := json.Unmarshal(p.stdout.Bytes(), &doc); err != nil {
			t.Fatalf("profile --json: %v\n%s", err, p.stdout.String())
		}
		if doc.Interface != c.iface() || doc.Duration <= 0 || len(doc.Programs) != 2 || doc.Programs[0].Name != "cheap" || doc.Programs[1].Slot != 1 {
			t.Fatalf("profile --json:\n%s", p.stdout.String())
		}
		cheap, costly := doc.Programs[0], doc.Programs[1]
		t.Logf("cheap %.0f ns/packet (p50 %.0f, p99 %.0f), costly %.0f ns/packet (p50 %.0f, p99 %.0f)", cheap.NsPerPacket, cheap.P50, cheap.P99, costly.NsPerPacket, costly.P50, costly.P99)
		if cheap.Packets < 200 || costly.Packets < 200 {
			t.Errorf("packets timed: cheap %d, costly %d; sent 200", cheap.Packets, costly.Packets)
		}
		if cheap.NsPerPacket <= 0 || costly.NsPerPacket < 5*cheap.NsPerPacket {
			t.Errorf("costly %.0f ns/packet, cheap %.0f: want costly at least 5 times cheap", costly.NsPerPacket, cheap.NsPerPacket)
		}
		if got := c.rootInstructions(t); got != plain {
			t.Error("after profile the root does not run the plain generation's instructions")
		}
		// The text table.
		p = c.startObserver(t, bin, nil, "profile", "--netns", ns, "--duration", "10m", "--program", "costly", "--sample", "2", c.iface())
		c.udp(t, otherPort, 20, true)
		p.stop(t)
		out := p.stdout.String()
		if !strings.Contains(out, "NS/PKT") || !strings.Contains(out, "costly") || strings.Contains(out, "cheap") || !strings.Contains(out, "one packet in 2") {
			t.Errorf("profile --program costly --sample 2:\n%s", out)
		}
	})
}

// TestTraceCLI: the decisions trace prints for 10 packets are explain's
// for the same frames.
func TestTraceCLI(t *testing.T) {
	vmtest.LogWhere(t)
	bin := testutil.XDPChainBinary(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		c.observedChain(t)
		ns := c.recv.Name
		tr := c.startObserver(t, bin, nil, "trace", "--netns", ns, "--json", c.iface())
		c.udp(t, dropPort, 5, false)
		c.udp(t, otherPort, 5, true)
		tr.stop(t)
		var traced []traceLine
		dec := json.NewDecoder(&tr.stdout)
		for {
			var l traceLine
			if err := dec.Decode(&l); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("trace --json: %v", err)
			}
			if l.Proto == "udp" {
				traced = append(traced, l)
			}
		}
		if len(traced) != 10 {
			t.Fatalf("trace printed %d UDP packets, sent 10:\n%s", len(traced), tr.stdout.String())
		}
		for _, l := range traced {
			out := c.mustRun(t, "explain", "--json", "--netns", ns, "--packet", l.Packet, c.iface())
			var ex dispatcher.Explanation
			if err := json.Unmarshal([]byte(out), &ex); err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprint(l.Explanation), fmt.Sprint(ex); got != want {
				t.Errorf("to %s: trace %s, explain %s", l.Dst, got, want)
			}
		}
	})
}

// TestObserverKilled: a dump, profile, trace or top --profile killed with
// SIGKILL leaves the chain running its probes only until its guard
// (without a daemon) or the daemon noticed: within 2 s the root runs the
// plain generation's instructions again.
func TestObserverKilled(t *testing.T) {
	vmtest.LogWhere(t)
	bin := testutil.XDPChainBinary(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		c.observedChain(t)
		ns := c.recv.Name
		plain := c.rootInstructions(t)
		dir := t.TempDir()
		// The bound the issue sets. Under the VMs' emulated CPUs (TCG,
		// tens of times slower) verifying the plain generation alone takes
		// longer: there the test only wants it back.
		within := 2 * time.Second
		if vmtest.InVM() {
			within = time.Minute
			t.Logf("in a TCG VM: waiting up to %v for the plain generation, not 2 s", within)
		}
		for _, path := range []string{"pins", "daemon"} {
			global := []string{"--no-daemon"}
			if path == "daemon" {
				startDaemon(t, bin, dir, c.bpffs, c.stateDir)
				global = []string{"--socket", filepath.Join(dir, "xdpchain.sock")}
			}
			for _, args := range [][]string{ // top: the one sample before its interval
				{"dump", "--program", "dropper", "-w", filepath.Join(dir, "x.pcap")},
				{"profile", "--duration", "10m"},
				{"trace"},
				{"top", "--once", "--profile", "--interval", "10m"},
			} {
				o := c.startObserverVia(t, bin, global, nil, append(args, "--netns", ns, c.iface())...)
				if c.rootInstructions(t) == plain {
					t.Fatalf("%s %s: the chain runs the plain generation while observed", path, args[0])
				}
				o.cmd.Process.Signal(syscall.SIGKILL)
				<-o.done
				killed := time.Now()
				for c.rootInstructions(t) != plain {
					if time.Since(killed) > within {
						t.Fatalf("%s %s killed: the plain generation does not run %v later", path, args[0], within)
					}
					time.Sleep(20 * time.Millisecond)
				}
				t.Logf("%s %s killed: the plain generation runs after %v", path, args[0], time.Since(killed).Round(time.Millisecond))
			}
		}
	})
}
