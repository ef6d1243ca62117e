package config

import (
	"errors"
	"testing"
)

// FuzzParse is the config loader on any bytes: a config, or errors that
// are each a located *Error wrapping ErrInvalid. Never a panic, a hang or
// an allocation out of proportion to the input. The seeds
// (testdata/fuzz/FuzzParse) cover every section and key.
func FuzzParse(f *testing.F) {
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("fuzz.toml", "/nonexistent/fuzz.toml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %q does not wrap ErrInvalid", err)
			}
			if len(Errors(err)) == 0 {
				t.Fatalf("error %q holds no *Error", err)
			}
			return
		}
		if cfg == nil {
			t.Fatal("no config and no error")
		}
		for _, p := range cfg.Programs {
			if p.Priority != nil && (*p.Priority < MinPriority || *p.Priority > MaxPriority) {
				t.Fatalf("program priority %d accepted", *p.Priority)
			}
		}
	})
}
