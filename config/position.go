package config

import (
	"fmt"
	"strconv"
	"strings"
)

// The TOML library reports positions for syntax errors only; its per-key
// positions are private and keyed without array indices, so the last
// [[plugin]] would win for every plugin. locator scans the file once and
// records the line of every table header and key, with array-of-tables
// elements numbered in order ("plugin[1]"), so that an error about the
// second plugin's priority names the second plugin's line.

// pathSep joins path segments in the locator's map. Keys may contain dots;
// they cannot contain this byte.
const pathSep = "\x1f"

type locator struct {
	lines  map[string]int // joined path -> line (1-based)
	arrays map[string]int // joined array-of-tables path -> element count
}

// locate scans TOML source. It is lenient: the TOML parser has already
// accepted the input, so anything unexpected is skipped to the end of its
// line.
func locate(src []byte) *locator {
	l := &locator{lines: make(map[string]int), arrays: make(map[string]int)}
	s := &tomlScanner{src: src, line: 1}
	var ctx []string
	for {
		s.skipSpaceAndNewlines()
		if s.eof() {
			return l
		}
		switch c := s.peek(); {
		case c == '#':
			s.skipToEOL()
		case c == '[':
			array := s.peekAt(1) == '['
			line := s.line
			if array {
				s.i += 2
			} else {
				s.i++
			}
			keys := s.key()
			s.skipToEOL()
			ctx = l.header(keys, array, line)
		default:
			line := s.line
			keys := s.key()
			if len(keys) == 0 || s.peek() != '=' {
				s.skipToEOL()
				continue
			}
			s.i++
			for i := range keys {
				l.record(append(append([]string(nil), ctx...), keys[:i+1]...), line)
			}
			s.skipValue()
			s.skipToEOL()
		}
	}
}

// header records a [table] or [[array]] header and returns the context for
// the keys below it.
func (l *locator) header(keys []string, array bool, line int) []string {
	var resolved []string
	for i, k := range keys {
		resolved = append(resolved, k)
		joined := strings.Join(resolved, pathSep)
		if i == len(keys)-1 && array {
			n := l.arrays[joined]
			l.arrays[joined] = n + 1
			l.record(resolved, line)
			resolved[len(resolved)-1] = element(k, n)
			break
		}
		if n, ok := l.arrays[joined]; ok && n > 0 {
			resolved[len(resolved)-1] = element(k, n-1)
		}
	}
	l.record(resolved, line)
	return resolved
}

func (l *locator) record(path []string, line int) {
	k := strings.Join(path, pathSep)
	if _, ok := l.lines[k]; !ok {
		l.lines[k] = line
	}
}

// line returns the line of path, or of its longest recorded prefix (a key
// inside an inline table is reported at its parent's line), or 0.
func (l *locator) line(path []string) int {
	for n := len(path); n > 0; n-- {
		if line, ok := l.lines[strings.Join(path[:n], pathSep)]; ok {
			return line
		}
	}
	return 0
}

// element names the n-th (0-based) element of an array of tables.
func element(name string, n int) string { return name + "[" + strconv.Itoa(n) + "]" }

type tomlScanner struct {
	src  []byte
	i    int
	line int
}

func (s *tomlScanner) eof() bool { return s.i >= len(s.src) }

func (s *tomlScanner) peek() byte { return s.peekAt(0) }

func (s *tomlScanner) peekAt(n int) byte {
	if s.i+n >= len(s.src) {
		return 0
	}
	return s.src[s.i+n]
}

func (s *tomlScanner) advance() {
	if s.src[s.i] == '\n' {
		s.line++
	}
	s.i++
}

func (s *tomlScanner) skipBlanks() {
	for !s.eof() && (s.peek() == ' ' || s.peek() == '\t') {
		s.i++
	}
}

func (s *tomlScanner) skipSpaceAndNewlines() {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.advance()
		default:
			return
		}
	}
}

// skipToEOL skips to the next newline, leaving it unread.
func (s *tomlScanner) skipToEOL() {
	for !s.eof() && s.peek() != '\n' {
		s.i++
	}
}

// key reads a dotted key up to '=' or ']' and returns its parts, unquoted.
func (s *tomlScanner) key() []string {
	var parts []string
	for {
		s.skipBlanks()
		switch c := s.peek(); {
		case c == '"':
			start := s.i
			s.skipBasicString()
			raw := string(s.src[start:s.i])
			if u, err := strconv.Unquote(raw); err == nil {
				parts = append(parts, u)
			} else {
				parts = append(parts, strings.Trim(raw, `"`))
			}
		case c == '\'':
			s.i++
			start := s.i
			for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
				s.i++
			}
			parts = append(parts, string(s.src[start:s.i]))
			if s.peek() == '\'' {
				s.i++
			}
		case isBare(c):
			start := s.i
			for !s.eof() && isBare(s.peek()) {
				s.i++
			}
			parts = append(parts, string(s.src[start:s.i]))
		default:
			return parts
		}
		s.skipBlanks()
		if s.peek() != '.' {
			return parts
		}
		s.i++
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// skipValue skips one value: strings of every kind, and arrays and inline
// tables spanning lines, with comments inside arrays.
func (s *tomlScanner) skipValue() {
	depth := 0
	for !s.eof() {
		switch c := s.peek(); c {
		case '\n':
			if depth == 0 {
				return
			}
			s.advance()
		case '#':
			s.skipToEOL()
		case '"', '\'':
			s.skipString(c)
		case '[', '{':
			depth++
			s.i++
		case ']', '}':
			depth--
			s.i++
			if depth <= 0 {
				return
			}
		default:
			s.i++
		}
	}
}

// skipString skips a string of any kind starting with the quote q.
func (s *tomlScanner) skipString(q byte) {
	switch {
	case s.peekAt(1) == q && s.peekAt(2) == q:
		s.skipMultiline(q)
	case q == '"':
		s.skipBasicString()
	default: // a one-line '...' literal, without escapes
		s.i++
		for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
			s.i++
		}
		if s.peek() == '\'' {
			s.i++
		}
	}
}

// skipBasicString skips a one-line "..." string with escapes.
func (s *tomlScanner) skipBasicString() {
	s.i++ // opening quote
	for !s.eof() && s.peek() != '\n' {
		switch s.peek() {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return
		default:
			s.i++
		}
	}
}

// skipMultiline skips a """...""" or ”'...”' string, counting lines.
func (s *tomlScanner) skipMultiline(q byte) {
	s.i += 3
	for !s.eof() {
		c := s.peek()
		if c == '\\' && q == '"' {
			s.i++
			if !s.eof() {
				s.advance()
			}
			continue
		}
		if c == q && s.peekAt(1) == q && s.peekAt(2) == q {
			s.i += 3
			// Up to two more quotes belong to the content.
			for n := 0; n < 2 && s.peek() == q; n++ {
				s.i++
			}
			return
		}
		s.advance()
	}
}

// Limits on the shape of a config, checked before the TOML library sees
// it: its cost grows with the square of a key's depth (dotted parts,
// nested inline tables and arrays), so a small file could take minutes. A
// real config stays far below both.
const (
	maxNesting  = 8 // arrays and inline tables inside one another
	maxKeyParts = 8 // parts of one dotted key or table header
)

// checkShape scans TOML source for nesting deeper than maxNesting and keys
// of more than maxKeyParts parts, outside strings and comments. It returns
// the first such problem, or nil. It is linear and lenient: anything it
// does not understand is left to the TOML parser.
func checkShape(file string, src []byte) *Error {
	s := &tomlScanner{src: src, line: 1}
	depth, dots := 0, 0
	for !s.eof() {
		switch c := s.peek(); c {
		case '\n':
			if depth == 0 {
				dots = 0
			}
			s.advance()
		case '#':
			s.skipToEOL()
		case '"', '\'':
			s.skipString(c)
		case '[', '{':
			depth++
			dots = 0
			s.i++
			if depth > maxNesting {
				return &Error{File: file, Line: s.line, Msg: fmt.Sprintf("arrays and tables nested more than %d deep", maxNesting)}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
			dots = 0
			s.i++
		case '=', ',':
			dots = 0
			s.i++
		case '.':
			dots++
			s.i++
			if dots >= maxKeyParts {
				return &Error{File: file, Line: s.line, Msg: fmt.Sprintf("a key of more than %d dotted parts", maxKeyParts)}
			}
		default:
			s.i++
		}
	}
	return nil
}
