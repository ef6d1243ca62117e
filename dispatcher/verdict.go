package dispatcher

import (
	"fmt"
	"strings"
)

// Verdict is an XDP action.
type Verdict uint32

// The XDP actions, in the kernel's numbering.
const (
	Aborted  Verdict = 0
	Drop     Verdict = 1
	Pass     Verdict = 2
	TX       Verdict = 3
	Redirect Verdict = 4
)

var verdictNames = [...]string{"aborted", "drop", "pass", "tx", "redirect"}

// String returns the verdict's lower-case name ("pass").
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", uint32(v))
}

// Valid reports whether v is one of XDP_ABORTED..XDP_REDIRECT.
func (v Verdict) Valid() bool { return v <= Redirect }

// ParseVerdict parses a verdict name: "pass", "XDP_PASS", "drop", ...
func ParseVerdict(s string) (Verdict, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	name = strings.TrimPrefix(name, "xdp_")
	for i, n := range verdictNames {
		if n == name {
			return Verdict(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown verdict %q (want one of %s)", ErrInvalid, s, strings.Join(verdictNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Verdict) UnmarshalText(b []byte) error {
	p, err := ParseVerdict(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// VerdictSet is a set of verdicts, one bit per verdict (bit n is verdict n),
// the encoding the dispatcher and libxdp's chain_call_actions use.
type VerdictSet uint32

// AllVerdicts contains every valid verdict.
const AllVerdicts VerdictSet = 1<<(Redirect+1) - 1

// NewVerdictSet returns the set of the given verdicts.
func NewVerdictSet(vs ...Verdict) VerdictSet {
	var s VerdictSet
	for _, v := range vs {
		s |= 1 << v
	}
	return s
}

// ParseVerdictSet parses a comma-separated list of verdict names. The empty
// string is the empty set.
func ParseVerdictSet(s string) (VerdictSet, error) {
	var set VerdictSet
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		v, err := ParseVerdict(f)
		if err != nil {
			return 0, err
		}
		set |= 1 << v
	}
	return set, nil
}

// Has reports whether v is in the set.
func (s VerdictSet) Has(v Verdict) bool { return v.Valid() && s&(1<<v) != 0 }

// Verdicts lists the set's verdicts in ascending order.
func (s VerdictSet) Verdicts() []Verdict {
	var out []Verdict
	for v := Aborted; v <= Redirect; v++ {
		if s.Has(v) {
			out = append(out, v)
		}
	}
	return out
}

// Strings lists the names of the set's verdicts in ascending order. It never
// returns nil, so an empty set marshals as [] in JSON.
func (s VerdictSet) Strings() []string {
	out := []string{}
	for _, v := range s.Verdicts() {
		out = append(out, v.String())
	}
	return out
}

// String returns the set as "pass,drop" (ascending verdict order).
func (s VerdictSet) String() string { return strings.Join(s.Strings(), ",") }
