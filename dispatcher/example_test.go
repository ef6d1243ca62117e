package dispatcher_test

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// Attach a root to an interface, build a chain in one atomic update, and
// read it back with its counters.
func Example() {
	ns, cleanup := exampleNetNS() // a network namespace with a veth end "eth0"
	defer cleanup()

	root, err := dispatcher.Attach("eth0", &dispatcher.Options{NetNS: ns})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer root.Close()

	// Objects are ELF files (os.ReadFile("dropport.o")). Priority and
	// proceed-on default to the object's libxdp metadata.
	dropper, err := dispatcher.NewProgram("dropper", testprogs.Object(testprogs.DropPort), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	counter, err := dispatcher.NewProgram("counter", testprogs.Object(testprogs.Counter), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = root.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, counter, dropper)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	st, err := root.Status()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s mode, fall-through %s\n", st.Name, st.Mode, st.Fallthrough)
	for _, p := range st.Programs {
		fmt.Printf("slot %d: %s (priority %d, proceed on %v), %d packets dropped\n", p.Slot, p.Name, p.Priority, p.ProceedOn, p.Stats.Drop)
	}

	// Only Detach removes the root; removing every program would leave
	// an empty dispatcher attached.
	if err := root.Detach(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// eth0: native mode, fall-through pass
	// slot 0: dropper (priority 10, proceed on [pass]), 0 packets dropped
	// slot 1: counter (priority 50, proceed on [pass]), 0 packets dropped
}

// Change a running chain: every Update reads the chain from the pins under
// the interface's lock, so changes by other processes are kept.
func ExampleRoot_Update() {
	ns, cleanup := exampleNetNS()
	defer cleanup()
	root, err := dispatcher.Attach("eth0", &dispatcher.Options{NetNS: ns})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer root.Close()
	defer root.Detach()

	noop := func(name string, priority int) dispatcher.Program {
		p, _ := dispatcher.NewProgram(name, testprogs.Object(testprogs.Noop), "")
		p.Priority = priority
		return p
	}
	show := func() {
		st, _ := root.Status()
		var slots []string
		for _, p := range st.Programs {
			slots = append(slots, fmt.Sprintf("%d:%s", p.Slot, p.Name))
		}
		fmt.Println(strings.Join(slots, " "))
	}

	root.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, noop("b", 10), noop("a", 10), noop("c", 5))
		return nil
	})
	show()

	// Move "c" last and remove "a".
	root.Update(func(s *dispatcher.Spec) error {
		s.Programs[s.Programs.Index("c")].Priority = 99
		i := s.Programs.Index("a")
		s.Programs = append(s.Programs[:i], s.Programs[i+1:]...)
		return nil
	})
	show()

	// A change that fails leaves the running chain as it was.
	_, err = root.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, noop("b", 1))
		return nil
	})
	fmt.Println(err)
	show()
	// Output:
	// 0:c 1:a 2:b
	// 0:b 1:c
	// program "b": invalid chain: duplicate name
	// 0:b 1:c
}

// Compare-and-swap: read the chain's revision, decide, and change it only
// if nobody changed it since. Update also says whether anything changed.
func ExampleRoot_Update_compareAndSwap() {
	ns, cleanup := exampleNetNS()
	defer cleanup()
	root, err := dispatcher.Attach("eth0", &dispatcher.Options{NetNS: ns})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer root.Close()
	defer root.Detach()
	p, _ := dispatcher.NewProgram("filter", testprogs.Object(testprogs.Noop), "")

	seen := uint64(0) // e.g. from Status().Revision
	errStale := errors.New("the chain moved on")
	add := func(s *dispatcher.Spec) error {
		if s.Revision != seen {
			return fmt.Errorf("%w: revision %d, expected %d", errStale, s.Revision, seen)
		}
		s.Programs = append(s.Programs, p)
		return nil
	}
	changed, err := root.Update(add)
	fmt.Println(changed, err)
	changed, err = root.Update(add) // the first one moved the chain to revision 1
	fmt.Println(changed, err)
	changed, err = root.Update(func(*dispatcher.Spec) error { return nil })
	fmt.Println(changed, err)
	// Output:
	// true <nil>
	// false the chain moved on: revision 1, expected 0
	// false <nil>
}

// NewProgram reads a program's defaults from its libxdp metadata.
func ExampleNewProgram() {
	p, err := dispatcher.NewProgram("", testprogs.Object(testprogs.RunConfig), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name, p.Priority, p.ProceedOn)
	// Output: runconfig 20 drop,pass
}

// exampleNetNS creates a named network namespace with a veth pair eth0 -
// peer0, both up, and returns its name and a function that removes it.
func exampleNetNS() (string, func()) {
	name := fmt.Sprintf("xdpchain-example-%d", os.Getpid())
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread dies with the goroutine
		h, err := netns.NewNamed(name)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "peer0"}
		if err := netlink.LinkAdd(veth); err != nil {
			errc <- err
			return
		}
		for _, n := range []string{"eth0", "peer0"} {
			l, err := netlink.LinkByName(n)
			if err == nil {
				err = netlink.LinkSetUp(l)
			}
			if err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		netns.DeleteNamed(name)
		panic(fmt.Sprintf("creating example namespace: %v", err))
	}
	return name, func() { netns.DeleteNamed(name) }
}
