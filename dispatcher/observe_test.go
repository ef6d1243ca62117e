package dispatcher_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// otherPort is a UDP port the observation tests send to besides dropPort.
const otherPort = 8888

// observedChain attaches [first counter, dropport, last counter].
func observedChain(t *testing.T, f *fixture) *dispatcher.Root {
	t.Helper()
	r := f.attach(t)
	first, last := program(t, testprogs.Counter, "first"), program(t, testprogs.Counter, "last")
	first.Priority, last.Priority = 5, 60
	add(t, r, first, program(t, testprogs.DropPort, "dropper"), last)
	return r
}

// rootInstructions returns the running dispatcher's instructions as the
// kernel translated them.
func rootInstructions(t *testing.T, r *dispatcher.Root) string {
	t.Helper()
	return testutil.Instructions(t, func() uint32 { return status(t, r).DispatcherID })
}

// udpDest returns the UDP destination port of an IPv4 Ethernet frame, or
// -1.
func udpDest(frame []byte) int {
	if len(frame) < 14+20+8 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 || frame[14+9] != 17 {
		return -1
	}
	ihl := int(frame[14]&0x0f) * 4
	if len(frame) < 14+ihl+4 {
		return -1
	}
	return int(binary.BigEndian.Uint16(frame[14+ihl+2:]))
}

// readEvents reads events until n of them carry IPv4 UDP, failing the
// test when they do not come; other packets (IPv6 neighbour discovery the
// kernel sends on its own) are left out.
func readEvents(t *testing.T, o *dispatcher.Observation, n int) []dispatcher.Event {
	t.Helper()
	var out []dispatcher.Event
	o.SetDeadline(time.Now().Add(30 * time.Second))
	for len(out) < n {
		e, err := o.Read()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		if udpDest(e.Data) >= 0 {
			out = append(out, e)
		}
	}
	return out
}

// noMoreEvents checks that no other UDP packet is in the buffer (every
// packet was sent and handled before).
func noMoreEvents(t *testing.T, o *dispatcher.Observation) {
	t.Helper()
	o.SetDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		e, err := o.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		if err != nil {
			t.Errorf("reading: %v", err)
			return
		}
		if udpDest(e.Data) >= 0 {
			t.Errorf("an event beyond those expected: %s of %s, a packet to port %d", e.Kind, e.Program, udpDest(e.Data))
		}
	}
}

// TestObserveCapture captures the drops of the chain's middle program and,
// at once (one combined generation), the input of its last one, while 25
// datagrams go to the dropped port and 25 to another: exactly the 25
// dropped arrive at the first, exactly the 25 others at the second; the
// chain decides and counts as unobserved; after both end, the running
// root's instructions are the plain generation's again.
func TestObserveCapture(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := observedChain(t, f)
		plain := rootInstructions(t, r)
		st0 := status(t, r)
		rev := st0.Revision

		drops, err := r.Observe(dispatcher.Probe{Kind: dispatcher.ProbeCapture, Program: "dropper", Verdicts: dispatcher.NewVerdictSet(dispatcher.Drop)})
		if err != nil {
			t.Fatalf("observing the drops: %v", err)
		}
		defer drops.Close()
		input, err := r.Observe(dispatcher.Probe{Kind: dispatcher.ProbeCapture, Program: "last", At: dispatcher.AtInput})
		if err != nil {
			t.Fatalf("observing the last program's input: %v", err)
		}
		defer input.Close()
		if rootInstructions(t, r) == plain {
			t.Fatal("the observed generation runs the plain root's instructions")
		}
		if st := status(t, r); st.Revision != rev {
			t.Errorf("observing moved the chain's revision from %d to %d", rev, st.Revision)
		}
		if got := len(r.Observing()); got != 2 {
			t.Errorf("the running generation observes for %d, want 2", got)
		}

		const n = 25
		f.expectUDP(t, false, dropPort, n, false)
		f.expectUDP(t, false, otherPort, n, true)

		for _, e := range readEvents(t, drops, n) {
			if e.Kind != dispatcher.EventOutput || e.Program != "dropper" || e.Slot != 1 || e.Verdict != dispatcher.Drop {
				t.Errorf("drop capture: %s of %s (slot %d) verdict %s", e.Kind, e.Program, e.Slot, e.Verdict)
			}
			if port := udpDest(e.Data); port != dropPort || len(e.Data) != e.Len {
				t.Errorf("drop capture: a packet to port %d, %d of %d bytes", port, len(e.Data), e.Len)
			}
		}
		noMoreEvents(t, drops)
		for _, e := range readEvents(t, input, n) {
			if e.Kind != dispatcher.EventInput || e.Program != "last" || e.Slot != 2 {
				t.Errorf("input capture: %s of %s (slot %d)", e.Kind, e.Program, e.Slot)
			}
			if port := udpDest(e.Data); port != otherPort {
				t.Errorf("input capture of the last program: a packet to port %d, want only %d", port, otherPort)
			}
		}
		noMoreEvents(t, input)
		if drops.Lost()+input.Lost() != 0 {
			t.Errorf("the buffers dropped %d and %d records", drops.Lost(), input.Lost())
		}

		// Every packet the first program passed reached the dropper, which
		// dropped the 25 and passed the rest (ours and strays) to the last.
		st := status(t, r)
		var got [3]dispatcher.Stats
		for i := range got {
			got[i] = sub(st.Programs[i].Stats, st0.Programs[i].Stats)
		}
		if got[1].Drop != n || got[0].Pass < 2*n || got[0].Pass != got[1].Drop+got[1].Pass || got[2].Pass != got[1].Pass || got[0].Drop+got[2].Drop != 0 {
			t.Errorf("counted while observed: first %+v, dropper %+v, last %+v; want %d dropped by the dropper and every other packet passed by all", got[0], got[1], got[2], n)
		}

		if err := drops.Close(); err != nil {
			t.Fatalf("ending the drop capture: %v", err)
		}
		if rootInstructions(t, r) == plain {
			t.Error("the input capture's probes left with the drop capture's")
		}
		if err := input.Close(); err != nil {
			t.Fatalf("ending the input capture: %v", err)
		}
		if got := rootInstructions(t, r); got != plain {
			t.Errorf("after the observation the root runs\n%s\nwant the plain generation's\n%s", got, plain)
		}
		if got := names(t, status(t, r)); fmt.Sprint(got) != "[first dropper last]" {
			t.Errorf("chain after observing: %v", got)
		}
		for _, path := range testutil.Tree(t, f.bpffs, f.stateDir) {
			if strings.Contains(path, "/observe") {
				t.Errorf("observation file left: %s", path)
			}
		}
	})
}

// TestObserveProfile times a chain under traffic: every program and the
// root have packets and a time per packet.
func TestObserveProfile(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := observedChain(t, f)
		plain := rootInstructions(t, r)
		o, err := r.Observe(dispatcher.Probe{Kind: dispatcher.ProbeProfile})
		if err != nil {
			t.Fatalf("profiling: %v", err)
		}
		defer o.Close()
		f.expectUDP(t, false, otherPort, 50, true)
		p, err := o.Profile()
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Programs) != 3 {
			t.Fatalf("profile of %d programs: %+v", len(p.Programs), p)
		}
		for _, pp := range append(p.Programs, p.Root) {
			t.Logf("%s: %d packets, %.0f ns/packet, p50 %.0f, p99 %.0f", pp.Name, pp.Packets, pp.NsPerPacket, pp.P50, pp.P99)
			if pp.Packets < 50 || pp.NsPerPacket <= 0 {
				t.Errorf("%s: %d packets timed (50 sent), %.1f ns each", pp.Name, pp.Packets, pp.NsPerPacket)
			}
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		if rootInstructions(t, r) != plain {
			t.Error("after profiling the root does not run the plain generation's instructions")
		}

		// One packet in 4 (per CPU), of the last program only.
		o, err = r.Observe(dispatcher.Probe{Kind: dispatcher.ProbeProfile, Sample: 4, Programs: []string{"last"}})
		if err != nil {
			t.Fatalf("profiling one packet in 4: %v", err)
		}
		defer o.Close()
		f.expectUDP(t, false, otherPort, 100, true)
		if p, err = o.Profile(); err != nil {
			t.Fatal(err)
		}
		if len(p.Programs) != 1 || p.Programs[0].Name != "last" || p.Sample != 4 {
			t.Fatalf("profile of last, one in 4: %+v", p)
		}
		// Exactly one in 4 of each CPU's packets: 25 of 100, give or
		// take one per CPU (and the strays that came along).
		if n := p.Programs[0].Packets; n < 20 || n > 50 {
			t.Errorf("one packet in 4 of 100 sent: %d timed", n)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestObserveTrace traces 10 packets live and compares each with Explain
// on the same frame.
func TestObserveTrace(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := observedChain(t, f)
		o, err := r.Observe(dispatcher.Probe{Kind: dispatcher.ProbeTrace, Snaplen: 512})
		if err != nil {
			t.Fatalf("tracing: %v", err)
		}
		defer o.Close()
		f.expectUDP(t, false, dropPort, 5, false)
		f.expectUDP(t, false, otherPort, 5, true)
		var tr dispatcher.Tracer
		var packets []*dispatcher.TracedPacket
		o.SetDeadline(time.Now().Add(30 * time.Second))
		for len(packets) < 10 {
			e, err := o.Read()
			if err != nil {
				t.Fatalf("after %d packets: %v", len(packets), err)
			}
			if p := tr.Add(e); p != nil && udpDest(p.Data) > 0 {
				packets = append(packets, p)
			}
		}
		drops := 0
		for _, p := range packets {
			ex, err := r.Explain(p.Data)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprint(p.Explanation), fmt.Sprint(*ex); got != want {
				t.Errorf("packet to %d traced %s, explained %s", udpDest(p.Data), got, want)
			}
			if p.DecidedBy == "dropper" {
				drops++
			}
		}
		if drops != 5 {
			t.Errorf("%d packets traced as dropped by dropper, sent 5", drops)
		}
	})
}

// TestObserveSampledDual profiles one packet in 2 while capturing the
// drops: the root holds two copies of the chain (the untimed packets run
// the plain one); both capture every drop, count and decide as the plain
// generation, and about half the packets are timed.
func TestObserveSampledDual(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := observedChain(t, f)
		st0 := status(t, r)
		prof, err := r.Observe(dispatcher.Probe{Kind: dispatcher.ProbeProfile, Sample: 2})
		if err != nil {
			t.Fatalf("profiling one packet in 2: %v", err)
		}
		defer prof.Close()
		drops, err := r.Observe(dispatcher.Probe{Kind: dispatcher.ProbeCapture, Program: "dropper", Verdicts: dispatcher.NewVerdictSet(dispatcher.Drop)})
		if err != nil {
			t.Fatalf("observing the drops: %v", err)
		}
		defer drops.Close()

		const n = 40
		f.expectUDP(t, false, dropPort, n, false)
		f.expectUDP(t, false, otherPort, n, true)
		for _, e := range readEvents(t, drops, n) {
			if e.Program != "dropper" || e.Verdict != dispatcher.Drop || udpDest(e.Data) != dropPort {
				t.Errorf("drop capture: %s of %s verdict %s, a packet to port %d", e.Kind, e.Program, e.Verdict, udpDest(e.Data))
			}
		}
		noMoreEvents(t, drops)

		st := status(t, r)
		var got [3]dispatcher.Stats
		for i := range got {
			got[i] = sub(st.Programs[i].Stats, st0.Programs[i].Stats)
		}
		if got[1].Drop != n || got[0].Pass < 2*n || got[0].Pass != got[1].Drop+got[1].Pass || got[2].Pass != got[1].Pass || got[0].Drop+got[2].Drop != 0 {
			t.Errorf("counted while profiled one in 2: first %+v, dropper %+v, last %+v; want %d dropped by the dropper and every other packet passed by all", got[0], got[1], got[2], n)
		}
		p, err := prof.Profile()
		if err != nil {
			t.Fatal(err)
		}
		if p.OneCopy != "" {
			t.Errorf("the sampled root keeps one copy of the chain: %s", p.OneCopy)
		}
		// One in 2 of each CPU's packets is timed (about n of the 2n the
		// first program passed, give or take one per CPU), each at one
		// program or, one time in 4, at all three: every program is
		// timed on some of them, none on more.
		for _, pp := range p.Programs {
			t.Logf("%s: %d packets timed of %d, %.0f ns/packet", pp.Name, pp.Packets, got[0].Pass, pp.NsPerPacket)
		}
		if len(p.Programs) != 3 {
			t.Fatalf("profile of %d programs", len(p.Programs))
		}
		for _, pp := range p.Programs {
			if k := pp.Packets; k < 1 || 2*k > got[0].Pass+4 {
				t.Errorf("%s: timed on %d packets; one in 2 of %d sampled, spread over the chain", pp.Name, k, got[0].Pass)
			}
		}
	})
}
