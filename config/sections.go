package config

import (
	"encoding/hex"
	"net"
	"path"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/xdp"
)

// maxProfileSample bounds [daemon] profile_sample.
const maxProfileSample = 1 << 30

func (d *decoder) daemon(top map[string]toml.Primitive) Daemon {
	out := Daemon{
		BPFFS:     dispatcher.DefaultBPFFS,
		Socket:    DefaultSocket,
		StateDir:  dispatcher.DefaultStateDir,
		SocketGID: -1,
	}
	t, ok := d.section(top, "daemon")
	if !ok {
		return out
	}
	for _, k := range []struct {
		key string
		dst *string
	}{{"bpffs", &out.BPFFS}, {"socket", &out.Socket}, {"state_dir", &out.StateDir}} {
		var s string
		if t.str(k.key, &s) {
			if s == "" {
				t.errorf(k.key, "empty path")
				continue
			}
			*k.dst = d.resolve(s)
		}
	}
	if t.str("metrics", &out.Metrics) {
		if _, _, err := net.SplitHostPort(out.Metrics); err != nil {
			t.errorf("metrics", "want a listen address host:port (\"127.0.0.1:9464\"): %v", err)
		}
	}
	var sample int
	if t.integer("profile_sample", &sample) {
		if sample < 1 || sample > maxProfileSample {
			t.errorf("profile_sample", "%d: want one packet in N timed, N from 1 to %d (1000 is a low rate; leave it out for none)", sample, maxProfileSample)
		} else {
			out.ProfileSample = uint32(sample)
		}
	}
	if t.str("socket_group", &out.SocketGroup) && out.SocketGroup != "" {
		gid, err := lookupGroup(out.SocketGroup)
		if err != nil {
			t.errorf("socket_group", "%v", err)
		}
		out.SocketGID = gid
	}
	t.done()
	return out
}

func (d *decoder) iface(t *table) Interface {
	out := Interface{Line: d.loc.line(t.path), Mode: dispatcher.ModeAuto, Mechanism: dispatcher.AutoMechanism, Fallthrough: dispatcher.Pass}
	if !t.str("name", &out.Name) {
		if !t.has("name") {
			t.errorf("name", "missing")
		}
	} else if !validIfname(out.Name) {
		t.errorf("name", "bad interface name %q (1-15 characters, no '/', ':' or spaces)", out.Name)
	} else if _, err := path.Match(out.Name, ""); err != nil {
		t.errorf("name", "bad interface pattern %q: %v", out.Name, err)
	}
	t.str("netns", &out.NetNS)
	out.NetNS = chain.CanonicalNetNS(out.NetNS)
	if s := ""; t.str("mode", &s) {
		m, err := dispatcher.ParseMode(s)
		if err != nil {
			t.errorf("mode", "unknown mode %q (want %s)", s, dispatcher.ModeChoices)
		} else {
			out.Mode = m
		}
	}
	if s := ""; t.str("mechanism", &s) {
		m, err := dispatcher.ParseMechanism(s)
		if err != nil {
			t.errorf("mechanism", "unknown mechanism %q (want %s)", s, dispatcher.MechanismChoices)
		}
		out.Mechanism = m
	}
	var s string
	if t.str("fallthrough", &s) {
		if v, err := xdp.ParseFallthrough(s); err != nil {
			t.errorf("fallthrough", "%v", err)
		} else {
			out.Fallthrough = v
		}
	}
	t.done()
	return out
}

// oneOf decodes a string that must be one of choices; it returns "" when the
// key is absent or bad. what names the kind of value in the error.
func (t *table) oneOf(key, what string, choices ...string) string {
	var s string
	if !t.str(key, &s) {
		return ""
	}
	for _, c := range choices {
		if s == c {
			return s
		}
	}
	last := len(choices) - 1
	t.errorf(key, "unknown %s %q (want %s or %s)", what, s, strings.Join(choices[:last], ", "), choices[last])
	return ""
}

func validIfname(s string) bool {
	return len(s) > 0 && len(s) < 16 && !strings.ContainsAny(s, "/: \t\n") && s != "." && s != ".."
}

func (t *table) verdict(key, s string) (dispatcher.Verdict, bool) {
	v, err := dispatcher.ParseVerdict(s)
	if err != nil {
		t.errorf(key, "unknown verdict %q (want %s)", s, xdp.VerdictChoices)
		return 0, false
	}
	return v, true
}

// verdicts decodes an array of verdict names. empty says whether [] is
// allowed.
func (t *table) verdicts(key string, empty bool) (dispatcher.VerdictSet, bool) {
	var names []string
	if !t.strs(key, &names) {
		return 0, false
	}
	if len(names) == 0 && !empty {
		t.errorf(key, "empty list; omit the key to allow every verdict")
		return 0, false
	}
	var set dispatcher.VerdictSet
	ok := true
	for _, n := range names {
		v, good := t.verdict(key, n)
		ok = ok && good
		set |= dispatcher.NewVerdictSet(v)
	}
	return set, ok
}

func (t *table) name(dst *string) {
	if !t.str("name", dst) {
		if !t.has("name") {
			t.errorf("name", "missing")
		}
		return
	}
	if !dispatcher.ValidName(*dst) {
		t.errorf("name", "bad name %q (want %s)", *dst, dispatcher.NameRule)
	}
}

func (t *table) priority(key string) *int {
	var p int
	if !t.integer(key, &p) {
		return nil
	}
	if p < MinPriority || p > MaxPriority {
		t.errorf(key, "priority %d out of range [%d, %d]", p, MinPriority, MaxPriority)
		return nil
	}
	return &p
}

// placement decodes before and after: the name of the program of the
// chain this one runs immediately before or after. At most one, and not
// with a priority (the placement chooses it).
func (t *table) placement(hasPriority bool) chain.Placement {
	var pl chain.Placement
	for _, k := range []struct {
		key string
		dst *string
	}{{"before", &pl.Before}, {"after", &pl.After}} {
		if t.str(k.key, k.dst) && !dispatcher.ValidName(*k.dst) {
			t.errorf(k.key, "bad program name %q (want %s)", *k.dst, dispatcher.NameRule)
			*k.dst = ""
		}
	}
	switch {
	case pl.Before != "" && pl.After != "":
		t.errorf("after", "give before or after, not both")
		return chain.Placement{}
	case !pl.IsZero() && hasPriority:
		key := "before"
		if pl.After != "" {
			key = "after"
		}
		t.errorf(key, "a placement chooses the priority; give %s or priority, not both", key)
		return chain.Placement{}
	}
	return pl
}

func (t *table) proceedOn() *dispatcher.VerdictSet {
	set, ok := t.verdicts("proceed_on", true)
	if !ok {
		return nil
	}
	return &set
}

func (t *table) interfaces(dst *[]string) {
	if !t.strs("interfaces", dst) {
		if !t.has("interfaces") {
			t.errorf("interfaces", "missing (list interface names, or \"*\" for all)")
		}
		return
	}
	if len(*dst) == 0 {
		t.errorf("interfaces", "empty list")
	}
}

// requiredPath decodes a file path that must be present, resolved against
// the config file's directory.
func (t *table) requiredPath(key string) string {
	var p string
	switch {
	case !t.str(key, &p):
		if !t.has(key) {
			t.errorf(key, "missing")
		}
	case p == "":
		t.errorf(key, "empty path")
	default:
		return t.d.resolve(p)
	}
	return ""
}

func (d *decoder) plugin(t *table) Plugin {
	out := Plugin{Line: d.loc.line(t.path), OnExit: Keep}
	t.name(&out.Name)
	out.Command = t.requiredPath("command")
	t.strs("args", &out.Args)
	if t.str("sha256", &out.SHA256) {
		out.SHA256 = strings.ToLower(out.SHA256)
		if b, err := hex.DecodeString(out.SHA256); err != nil || len(b) != 32 {
			t.errorf("sha256", "want 64 hexadecimal digits")
		}
	}
	t.interfaces(&out.Interfaces)
	out.Priority = t.priority("priority")
	out.Placement = t.placement(out.Priority != nil)
	out.ProceedOn = t.proceedOn()
	if s := t.oneOf("on_exit", "policy", string(Keep), string(Detach), string(Restart)); s != "" {
		out.OnExit = OnExit(s)
	}
	if t.str("user", &out.User) {
		if _, _, err := LookupUser(out.User); err != nil {
			t.errorf("user", "%v", err)
		}
	}
	out.AllowedVerdicts, _ = t.verdicts("allowed_verdicts", false)
	t.table("settings", &out.Settings)
	if out.Settings == nil {
		out.Settings = map[string]any{}
	}
	t.done()
	return out
}

func (d *decoder) program(t *table) Program {
	out := Program{Line: d.loc.line(t.path)}
	t.name(&out.Name)
	t.boolean("xsk", &out.XSK)
	switch {
	case !out.XSK:
		out.Object = t.requiredPath("object")
		t.str("program", &out.Program)
	default:
		for _, k := range []string{"object", "program"} {
			if t.has(k) {
				t.used[k] = true
				t.errorf(k, "xsk = true loads the built-in AF_XDP program: no %s", k)
			}
		}
	}
	t.interfaces(&out.Interfaces)
	out.Priority = t.priority("priority")
	out.Placement = t.placement(out.Priority != nil)
	out.ProceedOn = t.proceedOn()
	out.AllowedVerdicts, _ = t.verdicts("allowed_verdicts", false)
	t.boolean("shadow", &out.Shadow)
	t.done()
	return out
}

func (d *decoder) grant(t *table) Grant {
	out := Grant{
		Line: d.loc.line(t.path), UID: -1, GID: -1,
		PriorityMin: MinPriority, PriorityMax: MaxPriority,
		Verdicts: dispatcher.AllVerdicts,
	}
	if t.str("user", &out.User) {
		uid, _, err := LookupUser(out.User)
		if err != nil {
			t.errorf("user", "%v", err)
		}
		out.UID = uid
	}
	if t.str("group", &out.Group) {
		gid, err := lookupGroup(out.Group)
		if err != nil {
			t.errorf("group", "%v", err)
		}
		out.GID = gid
	}
	if !t.has("user") && !t.has("group") {
		d.errorf(t.path, "a grant needs a user, a group, or both")
	}
	if out.User == "0" || out.User == "root" {
		t.errorf("user", "root needs no grant")
	}
	t.interfaces(&out.Interfaces)
	lo, hi := t.priority("priority_min"), t.priority("priority_max")
	if lo != nil {
		out.PriorityMin = *lo
	}
	if hi != nil {
		out.PriorityMax = *hi
	}
	if out.PriorityMin > out.PriorityMax {
		t.errorf("priority_max", "priority_max %d is below priority_min %d", out.PriorityMax, out.PriorityMin)
	}
	if set, ok := t.verdicts("verdicts", false); ok {
		out.Verdicts = set
	}
	t.done()
	return out
}
