package host

import (
	"strings"
	"testing"
)

func TestTailWriter(t *testing.T) {
	w := newTailWriter(16)
	w.Write([]byte(`{"@level":"debug","@message":"plugin address"}` + "\n"))
	w.Write([]byte("first line\n"))
	if got := w.String(); got != "first line" {
		t.Errorf("got %q", got)
	}
	w.Write([]byte(strings.Repeat("x", 20) + "\nlast\n"))
	if got := w.String(); got != "xxxxxxxxxx\nlast" {
		t.Errorf("kept %q", got)
	}
}
