package dispatcher

import (
	"errors"
	"os"
	"regexp"
	"testing"
	"unsafe"

	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestCounterLayout checks the one Go definition of the counter layout
// (counterOffset, the column constants) against the C side: the bpf2go
// type generated from struct xdpchain_counters and enum xdpchain_column in
// bpf/dispatcher.h.
func TestCounterLayout(t *testing.T) {
	var c dispatcherXdpchainCounters
	base := uintptr(unsafe.Pointer(&c))
	for _, row := range []uint32{0, 1, 2, MaxPrograms, maxCounters} {
		for col := range numColumns {
			want := uintptr(unsafe.Pointer(&c.Packets[row][col])) - base
			if got := counterOffset(row, col); uintptr(got) != want {
				t.Errorf("counterOffset(%d, %d) = %d, want %d", row, col, got, want)
			}
		}
	}
	if len(c.Packets) != maxCounters+1 {
		t.Errorf("%d rows, want %d", len(c.Packets), maxCounters+1)
	}

	h, err := os.ReadFile("../bpf/dispatcher.h")
	if errors.Is(err, os.ErrNotExist) && vmtest.InVM() {
		t.Skipf("skipped on %s: the C header is not in the guest (the Go layout is checked above; the header on the host)", vmtest.Where())
	}
	if err != nil {
		t.Fatal(err)
	}
	enum := regexp.MustCompile(`(?s)enum xdpchain_column \{(.*?)\};`).FindSubmatch(h)
	if enum == nil {
		t.Fatal("bpf/dispatcher.h has no enum xdpchain_column")
	}
	var names []string
	for _, m := range regexp.MustCompile(`XDPCHAIN_(COL_\w+|NUM_COLUMNS)`).FindAllSubmatch(enum[1], -1) {
		names = append(names, string(m[1]))
	}
	want := map[string]int{
		"COL_ABORTED": int(Aborted), "COL_DROP": int(Drop), "COL_PASS": int(Pass), "COL_TX": int(TX), "COL_REDIRECT": int(Redirect),
		"COL_INVALID": colInvalid, "COL_DENIED": colDenied, "COL_EMPTY": colEmpty, "NUM_COLUMNS": numColumns,
	}
	if len(names) != len(want) {
		t.Fatalf("enum xdpchain_column lists %v, want the %d of %v", names, len(want), want)
	}
	for i, n := range names {
		if w, ok := want[n]; !ok || w != i {
			t.Errorf("XDPCHAIN_%s is %d in C, %d (%v) in Go", n, i, w, ok)
		}
	}
}
