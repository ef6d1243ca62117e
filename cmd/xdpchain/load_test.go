package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestLoadFlagsAnywhere loads with flags after the arguments, before them,
// and mixed, as users type them, and checks the chain each time.
func TestLoadFlagsAnywhere(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		ns, m := c.recv.Name, string(mech)
		out := c.mustRun(t, "load", c.iface(), c.obj(testprogs.DropPort), "--netns", ns, "--name", "drop", "--mechanism", m)
		if want := fmt.Sprintf("loaded \"drop\" on %s: slot 0 of 1, priority 10, proceed-on pass (%s, native mode)", c.iface(), mech); !strings.Contains(out, want) {
			t.Errorf("load says %q, want %q", out, want)
		}
		c.mustRun(t, "load", "--netns", ns, "--name", "count", "--priority", "60", "--proceed-on", "pass,drop", "--mechanism", m, c.iface(), c.obj(testprogs.Counter))
		c.mustRun(t, "load", "--netns", ns, c.iface(), "--name", "mid", c.obj(testprogs.Noop), "--priority=30")

		progs := programs(c.status(t))
		var got []string
		for _, p := range progs {
			got = append(got, fmt.Sprintf("%v:%v:%v", p["name"], p["priority"], p["proceed_on"]))
		}
		if want := "[drop:10:[pass] mid:30:[pass] count:60:[drop pass]]"; fmt.Sprint(got) != want {
			t.Errorf("chain %v, want %s", got, want)
		}
	})
}

// TestLoadMetadata checks that the object's libxdp metadata is the
// default and that explicit flags, even zero or empty, override it.
func TestLoadMetadata(t *testing.T) {
	vmtest.LogWhere(t)
	c := newCLI(t, dispatcher.Linked)
	ns := c.recv.Name
	c.mustRun(t, "load", "--netns", ns, c.iface(), c.obj(testprogs.RunConfig))
	c.mustRun(t, "load", "--netns", ns, "--name", "zero", "--priority", "0", "--proceed-on=", c.iface(), c.obj(testprogs.RunConfig))
	c.mustRun(t, "load", "--netns", ns, "--name", "dflt", c.iface(), c.obj(testprogs.Noop))
	got := map[string]string{}
	for _, p := range programs(c.status(t)) {
		got[p["name"].(string)] = fmt.Sprintf("%v %v %v", p["priority"], p["proceed_on"], p["program"])
	}
	for name, want := range map[string]string{
		"runconfig": "20 [drop pass] runconfig", // name defaults to the function
		"zero":      "0 [] runconfig",
		"dflt":      "50 [pass] noop",
	} {
		if got[name] != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
	if libxdp := "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o"; fileExists(libxdp) {
		c.mustRun(t, "load", "--netns", ns, "--name", "filter", c.iface(), libxdp)
		for _, p := range programs(c.status(t)) {
			if p["name"] == "filter" && (p["priority"] != 10.0 || fmt.Sprint(p["proceed_on"]) != "[pass]") {
				t.Errorf("xdp-filter loaded with %v %v, want its declared 10 [pass]", p["priority"], p["proceed_on"])
			}
		}
	} else {
		t.Logf("no xdp-tools objects here: libxdp object not tried")
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestLoadErrors makes load fail in every way a user can: each exits 1
// with one line that says why (naming the program where there is one), and
// the running chain is untouched.
func TestLoadErrors(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		ns := c.recv.Name
		c.mustRun(t, "load", "--netns", ns, "--mechanism", string(mech), c.iface(), c.obj(testprogs.DropPort))
		before := c.status(t)
		garbage := filepath.Join(t.TempDir(), "garbage.o")
		if err := os.WriteFile(garbage, []byte("not an ELF object"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			args []string
			says []string
		}{
			{"missing object", []string{c.iface(), "/nonexistent/prog.o"}, []string{"reading object", "/nonexistent/prog.o"}},
			{"garbage object", []string{"--name", "junk", c.iface(), garbage}, []string{`"junk"`, "ELF"}},
			{"no such program", []string{"--prog", "nosuch", c.iface(), c.obj(testprogs.Counter)}, []string{`"nosuch"`}},
			{"two programs, none chosen", []string{c.iface(), c.obj(testprogs.Multi)}, []string{"first", "second"}},
			{"verifier rejection", []string{c.iface(), c.obj(testprogs.Bad)}, []string{`"bad"`}},
			{"duplicate name", []string{"--name", "dropport", c.iface(), c.obj(testprogs.Noop)}, []string{`"dropport"`, "--replace"}},
			{"invalid name", []string{"--name", "no/slash", c.iface(), c.obj(testprogs.Noop)}, []string{`"no/slash"`}},
			{"unknown proceed-on verdict", []string{"--proceed-on", "pass,maybe", c.iface(), c.obj(testprogs.Noop)}, []string{`"maybe"`}},
			{"unknown mode", []string{"--mode", "turbo", c.iface(), c.obj(testprogs.Noop)}, []string{`"turbo"`}},
			{"unknown mechanism", []string{"--mechanism", "teleport", c.iface(), c.obj(testprogs.Noop)}, []string{`"teleport"`}},
			{"missing argument", []string{c.iface()}, []string{"2 arg"}},
			{"unknown flag", []string{"--colour", c.iface(), c.obj(testprogs.Noop)}, []string{"--colour"}},
			{"aborted fall-through", []string{"--fallthrough", "aborted", c.iface(), c.obj(testprogs.Noop)}, []string{"fall-through"}},
			{"no such interface", []string{"nosuchif0", c.obj(testprogs.Noop)}, []string{"nosuchif0"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				line := c.mustFail(t, append([]string{"load", "--netns", ns}, tc.args...)...)
				t.Log(line)
				for _, s := range tc.says {
					if !strings.Contains(line, s) {
						t.Errorf("error does not say %q", s)
					}
				}
				after := c.status(t)
				if after["dispatcher_id"] != before["dispatcher_id"] || len(programs(after)) != 1 {
					t.Errorf("chain changed: dispatcher %v with %d programs, want %v with 1", after["dispatcher_id"], len(programs(after)), before["dispatcher_id"])
				}
			})
		}
		if got := c.udp(t, testprogs.DropPortDefault, 5, false); got != 0 {
			t.Errorf("after the errors %d of 5 datagrams to the drop port arrived", got)
		}

		// --verifier-log adds the log after the one-line error.
		code, _, errOut := c.run(t, "load", "--netns", ns, "--verifier-log", c.iface(), c.obj(testprogs.Bad))
		if code != 1 || !strings.Contains(errOut, `verifier log of "bad":`) || strings.Count(errOut, "\n") < 3 {
			t.Errorf("--verifier-log: exit %d, stderr:\n%s", code, errOut)
		}

		// --replace swaps a program of the same name.
		c.mustRun(t, "load", "--netns", ns, "--name", "dropport", "--replace", "--priority", "7", c.iface(), c.obj(testprogs.DropPort))
		if p := programs(c.status(t)); len(p) != 1 || p[0]["priority"] != 7.0 {
			t.Errorf("after --replace: %v", p)
		}
	})
}

// TestLoadFallthrough sets the fall-through verdict from the command line.
func TestLoadFallthrough(t *testing.T) {
	vmtest.LogWhere(t)
	c := newCLI(t, dispatcher.Linked)
	ns := c.recv.Name
	c.mustRun(t, "load", "--netns", ns, "--fallthrough", "drop", c.iface(), c.obj(testprogs.Noop))
	if ft := c.status(t)["fallthrough"]; ft != "drop" {
		t.Errorf("fall-through %v, want drop", ft)
	}
	if got := c.udp(t, 7777, 5, false); got != 0 {
		t.Errorf("with fall-through drop %d of 5 datagrams arrived", got)
	}
	c.mustRun(t, "load", "--netns", ns, "--fallthrough", "pass", "--name", "second", c.iface(), c.obj(testprogs.Noop))
	if ft := c.status(t)["fallthrough"]; ft != "pass" {
		t.Errorf("fall-through %v, want pass", ft)
	}
	if got := c.udp(t, 7777, 5, true); got != 5 {
		t.Errorf("with fall-through pass %d of 5 datagrams arrived", got)
	}
}

// TestLoadMechanismAuto checks the one meaning of auto from the command
// line: a root the load creates gets inline, a root keeps its mechanism
// through loads without --mechanism or with --mechanism auto, and a named
// mechanism changes it.
func TestLoadMechanismAuto(t *testing.T) {
	vmtest.LogWhere(t)
	c := newCLI(t, dispatcher.Linked)
	ns := c.recv.Name
	mechanism := func() any { return c.status(t)["mechanism"] }
	c.mustRun(t, "load", "--netns", ns, "--name", "a", "--mechanism", "auto", c.iface(), c.obj(testprogs.Noop))
	if m := mechanism(); m != string(dispatcher.Inline) {
		t.Fatalf("a new root with auto runs %v, want inline", m)
	}
	c.mustRun(t, "load", "--netns", ns, "--name", "b", "--mechanism", "link", c.iface(), c.obj(testprogs.Noop))
	if m := mechanism(); m != string(dispatcher.Linked) {
		t.Fatalf("--mechanism link: %v, want linked", m)
	}
	c.mustRun(t, "load", "--netns", ns, "--name", "c", c.iface(), c.obj(testprogs.Noop))
	c.mustRun(t, "load", "--netns", ns, "--name", "d", "--mechanism", "auto", c.iface(), c.obj(testprogs.Noop))
	if m := mechanism(); m != string(dispatcher.Linked) {
		t.Errorf("loads with auto on a linked root: %v, want linked kept", m)
	}
	if line := c.mustFail(t, "load", "--netns", ns, "--name", "e", "--mechanism", "teleport", c.iface(), c.obj(testprogs.Noop)); !strings.Contains(line, `unknown mechanism "teleport"`) {
		t.Errorf("unknown mechanism: %q", line)
	}
}
