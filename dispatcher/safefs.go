package dispatcher

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The state directory and the pin directory are trusted: what they hold
// decides what a root process loads, and what it removes. So both trees are
// checked before every use (see secureDir): every directory in them must be
// a real directory (never a symbolic link), owned by this process's
// effective user and writable by nobody else; their ancestors must be owned
// by root or that user and not writable by others (unless sticky, as
// /tmp). Then only that user could have put anything there, and files in
// them are still opened with O_NOFOLLOW.

// checkDirStat refuses a directory that someone else could change.
func checkDirStat(path string, st *unix.Stat_t) error {
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("%w: %s is a symbolic link (xdpchain follows none in its state and pin directories)", ErrUnsafeDir, path)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafeDir, path)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%w: %s is owned by uid %d, not by uid %d (this process)", ErrUnsafeDir, path, st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%w: %s is writable by group or others (mode %04o)", ErrUnsafeDir, path, st.Mode&0o7777)
	}
	return nil
}

// checkAncestors refuses a path whose existing ancestors (symbolic links
// resolved) someone other than root or this user could change: a rename
// there would swap the whole tree.
func checkAncestors(path string) error {
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("%w: resolving the parent of %s: %w", ErrUnsafeDir, path, err)
	}
	for {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrUnsafeDir, dir, err)
		}
		switch {
		case st.Uid != 0 && int(st.Uid) != os.Geteuid():
			return fmt.Errorf("%w: %s (an ancestor of %s) is owned by uid %d, neither root nor this process", ErrUnsafeDir, dir, path, st.Uid)
		case st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0:
			return fmt.Errorf("%w: %s (an ancestor of %s) is writable by group or others (mode %04o) and not sticky", ErrUnsafeDir, dir, path, st.Mode&0o7777)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// secureDir checks the tree from base down to dir (dir is base or below
// it): base's ancestors, base and every directory between them (see
// checkDirStat). Missing directories are created (mode 0700) when create is
// set; otherwise exists reports false and nothing is created.
func secureDir(base, dir string, create bool) (exists bool, err error) {
	return newDirChecks().secureDir(base, dir, create)
}

// dirChecks remembers the directories one operation checked (secureDir),
// so that the operation checks each of them, and each base's ancestors,
// once: an operation is one look at an interface's trees (pinDir.secure)
// or one change under the interface's lock (Root.checkPins starts a new
// one for it, which the change's slots use). Every operation checks again.
type dirChecks struct {
	ancestors map[string]bool // bases whose ancestors were checked
	dirs      map[string]bool // directories found to exist and safe
}

func newDirChecks() *dirChecks {
	return &dirChecks{ancestors: map[string]bool{}, dirs: map[string]bool{}}
}

// secureDir is the package's secureDir, skipping what c checked already.
func (c *dirChecks) secureDir(base, dir string, create bool) (exists bool, err error) {
	base, dir = filepath.Clean(base), filepath.Clean(dir)
	rel, err := filepath.Rel(base, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return false, fmt.Errorf("%w: %s is not below %s", ErrUnsafeDir, dir, base)
	}
	if !c.ancestors[base] {
		if create {
			if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
				return false, fmt.Errorf("creating %s: %w", filepath.Dir(base), err)
			}
		} else if _, err := os.Stat(filepath.Dir(base)); errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err := checkAncestors(base); err != nil {
			return false, err
		}
		c.ancestors[base] = true
	}
	components := []string{}
	if rel != "." {
		components = strings.Split(rel, "/")
	}
	// Another process may remove empty directories at any time (Detach,
	// clean-up): when one goes while it is created, forget what was
	// checked and walk again.
	for tries := 0; ; tries++ {
		exists, err := c.walkDir(base, components, create)
		if !create || tries == 10 || !errors.Is(err, fs.ErrNotExist) {
			return exists, err
		}
		clear(c.dirs)
	}
}

// walkDir checks (and with create, makes) base and each component below
// it in turn, but the directories above the last that c checked already;
// the last is always looked at (another process may have removed it since,
// and it is the one used next); see secureDir.
func (c *dirChecks) walkDir(base string, components []string, create bool) (bool, error) {
	path := base
	for i := 0; ; i++ {
		if i == len(components) || !c.dirs[path] {
			var st unix.Stat_t
			err := unix.Lstat(path, &st)
			if errors.Is(err, unix.ENOENT) {
				if !create {
					return false, nil
				}
				if err := unix.Mkdir(path, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
					return false, fmt.Errorf("creating %s: %w", path, err)
				}
				err = unix.Lstat(path, &st)
			}
			if err != nil {
				return false, fmt.Errorf("%w: %s: %w", ErrUnsafeDir, path, err)
			}
			if err := checkDirStat(path, &st); err != nil {
				return false, err
			}
			c.dirs[path] = true
		}
		if i == len(components) {
			return true, nil
		}
		path = filepath.Join(path, components[i])
	}
}

// secure checks both trees of an interface's pins; missing directories are
// created when create is set. bpfExists reports whether the pin directory
// exists.
func (p pinDir) secure(o Options, create bool) (bpfExists bool, err error) {
	return p.secureWith(newDirChecks(), o, create)
}

// secureWith is secure, one operation of c.
func (p pinDir) secureWith(c *dirChecks, o Options, create bool) (bpfExists bool, err error) {
	bpfBase := filepath.Join(o.BPFFS, "xdpchain")
	bpfExists, err = c.secureDir(bpfBase, p.bpf, create)
	if err != nil {
		return false, err
	}
	// The state directory is created under the lock, when a root is.
	if _, err := c.secureDir(o.StateDir, p.state, false); err != nil {
		return false, err
	}
	// The subdirectories, where they exist (they are created when needed).
	for _, d := range []struct{ base, dir string }{
		{o.StateDir, p.objectsDir()},
		{bpfBase, p.mapsDir()},
		{bpfBase, p.progsDir()},
		{bpfBase, p.linksDir()},
		{bpfBase, p.aloneDir()},
	} {
		if _, err := c.secureDir(d.base, d.dir, false); err != nil {
			return false, err
		}
	}
	return bpfExists, nil
}

// maxStateFile bounds what is read from a state file.
const maxStateFile = 64 << 20

// readFileNoFollow reads a regular file without following a symbolic link
// at path, and at most max bytes.
func readFileNoFollow(path string, max int64) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("%w: %s is a symbolic link", ErrUnsafeDir, path)
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrUnsafeDir, path)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", path, fi.Size(), max)
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// isRealDir reports whether path is a directory and not a symbolic link.
func isRealDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.IsDir()
}
