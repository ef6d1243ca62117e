package dispatcher

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestObjectSpecUntyped: programs in sections that name no type
// (SEC("redirect_to_111"), SEC("x")) are taken as XDP, picked when the
// object has no other candidate and by name otherwise; a program typed as
// something else is refused by name, with its section.
func TestObjectSpecUntyped(t *testing.T) {
	one, several := testprogs.Object(testprogs.UntypedOne), testprogs.Object(testprogs.Untyped)
	if cs, err := loadCollectionSpec(one); err != nil || cs.Programs["xdp_redirect_to_111"].Type != ebpf.UnspecifiedProgram {
		t.Fatalf("the test object's program is not untyped to the ELF reader: %v", err)
	}
	for _, tc := range []struct {
		name     string
		obj      []byte
		progName string
		want     string
		err      error
		msg      string
	}{
		{"only program, untyped", one, "", "xdp_redirect_to_111", nil, ""},
		{"named untyped", several, "xdp_x", "xdp_x", nil, ""},
		{"named untyped beside XDP", several, "xdp_redirect_to_111", "xdp_redirect_to_111", nil, ""},
		{"named XDP beside untyped", several, "foo", "foo", nil, ""},
		{"several candidates", several, "", "", ErrInvalid, "[foo xdp_redirect_to_111 xdp_x]"},
		{"typed as something else", several, "classifier", "", ErrLoad, `program "classifier" is SchedCLS (section "tc"), not XDP`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ps, err := objectSpec(tc.obj, tc.progName)
			if tc.want == "" {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %v, want %v containing %q", err, tc.err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ps.Name != tc.want || ps.Type != ebpf.XDP || ps.AttachType != ebpf.AttachXDP || cs.Programs[tc.want] != ps {
				t.Errorf("picked %s (%s, %s), want XDP program %s", ps.Name, ps.Type, ps.AttachType, tc.want)
			}
		})
	}
}

// TestProgArrayOf finds the PROG_ARRAY a program uses, by the maps its
// instructions are associated with (freplace splices such programs).
func TestProgArrayOf(t *testing.T) {
	testutil.RequireRoot(t)
	for object, want := range map[string]string{testprogs.TailSelf: "jumps", testprogs.Inline: "", testprogs.Counter: ""} {
		cs, ps, err := objectSpec(testprogs.Object(object), testprogs.Program(object))
		if err != nil {
			t.Fatal(err)
		}
		s := &slot{maps: map[string]*ebpf.Map{}}
		for name, ms := range cs.Maps {
			m, err := ebpf.NewMap(loaderMapSpec(ms))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s.maps[name] = m
		}
		s.insns = append(ps.Instructions[:0:0], ps.Instructions...)
		if err := associateMaps(s.insns, s.maps); err != nil {
			t.Fatal(err)
		}
		if got := progArrayOf(s); got != want {
			t.Errorf("%s/%s uses PROG_ARRAY %q, want %q", object, ps.Name, got, want)
		}
	}
}
