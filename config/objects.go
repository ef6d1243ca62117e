package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// checkObject reads a [[program]]'s object as the daemon will: an ELF
// object of at most dispatcher.MaxObjectSize bytes holding the XDP program
// the entry names, or its only one. It says what is wrong without the
// program error's own prefix (the caller names the entry).
func checkObject(p *Program) error {
	f, err := os.Open(p.Object)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Object, unwrapPath(err))
	}
	defer f.Close()
	obj, err := io.ReadAll(io.LimitReader(f, dispatcher.MaxObjectSize+1))
	if err != nil {
		return fmt.Errorf("%s: %w", p.Object, unwrapPath(err))
	}
	if _, err := dispatcher.NewProgram(p.Name, obj, p.Program); err != nil {
		var pe *dispatcher.ProgramError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		var sp *dispatcher.SeveralProgramsError
		if errors.As(err, &sp) {
			return fmt.Errorf("%s: %w with program = (one of %s)", p.Object, err, quoteList(sp.Programs))
		}
		return fmt.Errorf("%s: %w", p.Object, err)
	}
	return nil
}

// quoteList is names as TOML strings, comma-separated.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
