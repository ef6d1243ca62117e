package daemon

import (
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/config"
)

func TestBackoff(t *testing.T) {
	d := New(&config.Config{}, Options{RestartBackoff: 100 * time.Millisecond, RestartBackoffMax: time.Second})
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for n, w := range want {
		if got := d.backoff(n); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	d = New(&config.Config{}, Options{})
	if d.opts.RestartBackoff != time.Second || d.opts.RestartBackoffMax != 30*time.Second || d.opts.RestartAttempts != 5 {
		t.Errorf("defaults: %+v", d.opts)
	}
}
