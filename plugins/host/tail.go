package host

import (
	"strings"
	"sync"
)

// tailWriter keeps the last bytes written to it: the plugin's stderr, for
// error messages about a plugin that died early.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func newTailWriter(max int) *tailWriter { return &tailWriter{max: max} }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// go-plugin's own chatter at debug level says nothing about why a
	// plugin failed.
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if strings.HasPrefix(line, `{"@level":"debug"`) || strings.HasPrefix(line, `{"@level":"trace"`) {
			continue
		}
		t.buf = append(t.buf, line...)
	}
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// String returns the kept text, trimmed.
func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
