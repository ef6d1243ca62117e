package config

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// LookupUser resolves a user name or number to its uid and primary gid. A
// number without a passwd entry resolves to itself, with gid equal to uid.
func LookupUser(s string) (uid, gid int, err error) {
	if n, err := strconv.ParseUint(s, 10, 31); err == nil {
		if u, err := user.LookupId(s); err == nil {
			g, _ := strconv.Atoi(u.Gid)
			return int(n), g, nil
		}
		return int(n), int(n), nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return -1, -1, fmt.Errorf("unknown user %q", s)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// lookupGroup resolves a group name or number.
func lookupGroup(s string) (int, error) {
	if n, err := strconv.ParseUint(s, 10, 31); err == nil {
		return int(n), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return -1, fmt.Errorf("unknown group %q", s)
	}
	gid, _ := strconv.Atoi(g.Gid)
	return gid, nil
}

// CheckFiles checks that every plugin command is an executable regular
// file and every program object a regular file holding an ELF object with
// the XDP program to load (its only one, or the one named). Like Load, it reports every
// problem as an *Error, joined, wrapping ErrInvalid.
func (c *Config) CheckFiles() error {
	var errs []error
	add := func(path []string, err error) {
		line := 0
		if c.loc != nil {
			line = c.loc.line(path)
		}
		errs = append(errs, &Error{File: c.file, Line: line, Key: strings.Join(path, "."), Msg: err.Error()})
	}
	for i, p := range c.Plugins {
		if err := checkExecutable(p.Command); err != nil {
			add([]string{element("plugin", i), "command"}, err)
		}
	}
	for i, p := range c.Programs {
		if p.XSK {
			continue // built in
		}
		if err := checkRegular(p.Object); err != nil {
			add([]string{element("program", i), "object"}, err)
		} else if err := checkObject(&p); err != nil {
			add([]string{element("program", i), "object"}, err)
		}
	}
	return errors.Join(errs...)
}

func checkRegular(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	return nil
}

func checkExecutable(path string) error {
	if err := checkRegular(path); err != nil {
		return err
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: not executable", path)
	}
	return nil
}

// unwrapPath drops the *PathError wrapper, whose path we already print.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
