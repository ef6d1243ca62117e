package dispatcher

import (
	"fmt"
	"regexp"
	"sort"
)

// MaxPrograms is the number of slots in the dispatcher (MAX_SLOTS in
// bpf/dispatcher.h).
const MaxPrograms = 64

// DefaultPriority is the priority of a program that declares none (libxdp's
// XDP_DEFAULT_RUN_PRIO).
const DefaultPriority = 50

// Priorities lie in [MinPriority, MaxPriority] everywhere: the library, the
// CLI, the config file and the control socket; lower runs first.
const (
	MinPriority = 0
	MaxPriority = 1000
)

// DefaultProceedOn is the proceed-on set of a program that declares none
// (libxdp's XDP_DEFAULT_CHAIN_CALL_ACTIONS).
const DefaultProceedOn = VerdictSet(1 << Pass)

// Program is one entry of a chain.
type Program struct {
	// Name identifies the program on its interface. Unique per interface;
	// letters, digits, '_' and '-', at most 64 characters.
	Name string `json:"name"`
	// Priority orders the chain: lower runs first; ties are broken by Name.
	Priority int `json:"priority"`
	// ProceedOn lists the verdicts on which the chain continues to the next
	// program. Any other verdict is final.
	ProceedOn VerdictSet `json:"proceed_on"`
	// Allowed restricts the verdicts the program may return; others become
	// XDP_ABORTED and are counted as "denied". Zero means all verdicts.
	Allowed VerdictSet `json:"allowed,omitempty"`
	// Shadow runs the program and counts its verdicts, but the chain always
	// continues: a dry run of a new filter.
	Shadow bool `json:"shadow,omitempty"`
	// Frags marks the program as aware of multi-buffer packets.
	Frags bool `json:"frags,omitempty"`
	// Owner records who loaded the program (a plugin, a user). Informational
	// to this package; the daemon enforces ownership.
	Owner string `json:"owner,omitempty"`
	// Version is the program's version as its author declared it.
	Version string `json:"version,omitempty"`
	// Unprivileged has the program verified as the kernel verifies a
	// caller without CAP_PERFMON and CAP_SYS_ADMIN (no kernel pointers in
	// maps or packets, Spectre hardening on): set it for programs of
	// owners who are not root. With the inline and linked mechanisms the
	// whole generation that holds it is verified that way (privilege.go).
	Unprivileged bool `json:"unprivileged,omitempty"`

	// Object is the BPF ELF object's content.
	Object []byte `json:"-"`
	// ProgramName is the program (function) in Object to use. May be empty
	// when the object has exactly one XDP program.
	ProgramName string `json:"program"`
}

// NameRule is the rule for program names, which become pin paths: the one
// rule of the dispatcher, the config file and the CLI (ValidName).
const NameRule = "1-64 of A-Z a-z 0-9 _ -"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidName reports whether name follows NameRule.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Chain is an ordered list of programs for one interface.
type Chain []Program

// Sort orders the chain: ascending priority, ties by name. The order is
// total and deterministic.
func (c Chain) Sort() {
	sort.SliceStable(c, func(i, j int) bool {
		if c[i].Priority != c[j].Priority {
			return c[i].Priority < c[j].Priority
		}
		return c[i].Name < c[j].Name
	})
}

// Sorted returns a sorted copy of the chain.
func (c Chain) Sorted() Chain {
	out := append(Chain(nil), c...)
	out.Sort()
	return out
}

// Index returns the position of the program called name, or -1.
func (c Chain) Index(name string) int {
	for i := range c {
		if c[i].Name == name {
			return i
		}
	}
	return -1
}

// Validate checks names, uniqueness, verdict sets and length. It does not
// look at objects; Apply does.
func (c Chain) Validate() error {
	if len(c) > MaxPrograms {
		return fmt.Errorf("%w: %d programs, at most %d fit the dispatcher", ErrInvalid, len(c), MaxPrograms)
	}
	seen := make(map[string]bool, len(c))
	for _, p := range c {
		if err := p.validate(); err != nil {
			return &ProgramError{Program: p.Name, Err: err}
		}
		if seen[p.Name] {
			return &ProgramError{Program: p.Name, Err: fmt.Errorf("%w: duplicate name", ErrInvalid)}
		}
		seen[p.Name] = true
	}
	return nil
}

func (p *Program) validate() error {
	if !ValidName(p.Name) {
		return fmt.Errorf("%w: name %q: want %s", ErrInvalid, p.Name, NameRule)
	}
	if p.ProceedOn&^AllVerdicts != 0 {
		return fmt.Errorf("%w: proceed-on has unknown verdict bits %#x", ErrInvalid, uint32(p.ProceedOn))
	}
	if p.Allowed&^AllVerdicts != 0 {
		return fmt.Errorf("%w: allowed has unknown verdict bits %#x", ErrInvalid, uint32(p.Allowed))
	}
	if err := CheckPriority(p.Priority); err != nil {
		return err
	}
	return nil
}

// CheckPriority refuses a priority outside [MinPriority, MaxPriority] with
// an ErrInvalid.
func CheckPriority(p int) error {
	if p < MinPriority || p > MaxPriority {
		return fmt.Errorf("%w: priority %d out of range [%d, %d]", ErrInvalid, p, MinPriority, MaxPriority)
	}
	return nil
}
