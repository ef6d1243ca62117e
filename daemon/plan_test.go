package daemon

import (
	"fmt"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
)

func TestDiffChains(t *testing.T) {
	obj1, obj2 := []byte("one"), []byte("two")
	a := dispatcher.Chain{
		{Name: "keep", Priority: 10, Object: obj1},
		{Name: "gone", Priority: 20, Object: obj1},
		{Name: "new-object", Priority: 30, Object: obj1},
		{Name: "prio", Priority: 40, Object: obj1},
		{Name: "pushed", Priority: 50, Object: obj1},
	}
	b := dispatcher.Chain{
		{Name: "keep", Priority: 10, Object: obj1},
		{Name: "added", Priority: 45, Object: obj2},
		{Name: "first", Priority: 1, Object: obj2},
		{Name: "new-object", Priority: 30, Object: obj2},
		{Name: "prio", Priority: 55, Object: obj1},
		{Name: "pushed", Priority: 50, Object: obj1},
	}
	changes, unchanged := diffChains(a, b, nil)
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%s %s (%s)", c.Kind, c.Program, c.Detail))
	}
	want := []string{
		"added first (slot 0, priority 1)",
		"replaced new-object (a new object)",
		"added added (slot 3, priority 45)",
		"moved pushed (slot 4, between other programs)",
		"changed prio (priority 40, proceed-on  -> priority 55, proceed-on )",
		"removed gone ()",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || unchanged != 1 {
		t.Errorf("changes (%d unchanged):\n%q\nwant\n%q", unchanged, got, want)
	}
	if changes, unchanged := diffChains(a, a, nil); len(changes) != 0 || unchanged != len(a) {
		t.Errorf("a chain against itself: %v, %d unchanged", changes, unchanged)
	}
}
