package host

import (
	"strings"
	"sync"
)

// tailWriter keeps the last bytes written to it: the plugin's output at
// info and above, for error messages about a plugin that died early.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func newTailWriter(max int) *tailWriter { return &tailWriter{max: max} }

// Write keeps p's lines except go-plugin's debug and trace records.
func (t *tailWriter) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if strings.HasPrefix(line, `{"@level":"debug"`) || strings.HasPrefix(line, `{"@level":"trace"`) {
			continue
		}
		t.append(line)
	}
	return len(p), nil
}

// add keeps one line.
func (t *tailWriter) add(line string) { t.append(strings.TrimRight(line, "\n") + "\n") }

func (t *tailWriter) append(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, s...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
}

// String returns the kept text, trimmed.
func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
