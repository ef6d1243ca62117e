package dispatcher

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// An xdpchain instance is one state directory: the processes (a daemon,
// the CLI) that use it manage the roots whose state is there. Several
// instances may share a bpffs (a host daemon and one in a container, a
// daemon with its own state_dir, test suites), so every root says in its
// pins which instance it belongs to, and an instance works only on its own
// (see docs/pins.md):
//
//	<statedir>/instance                          a random ID, made with the first root
//	<bpffs>/xdpchain/<netns>/<ifindex>/owner     a symbolic link (never followed) to
//	                                             "<statedir>#<ID>" of the owning instance
//
// The ID tells apart two instances whose state directories have the same
// path in different mount namespaces (a container's /run/xdpchain).
const (
	instanceFile = "instance"
	ownerPin     = "owner"
)

// Instance names the xdpchain instance that manages a root: its state
// directory (as that instance's processes see it) and its ID.
type Instance struct {
	StateDir string `json:"state_dir"`
	ID       string `json:"id"`
}

func (i Instance) String() string {
	return fmt.Sprintf("the instance at %s (ID %s)", i.StateDir, i.ID)
}

// readInstanceID returns the ID of the instance whose state directory is
// dir; "" when it has none yet (no root was ever made with it).
func readInstanceID(dir string) (string, error) {
	b, err := readFileNoFollow(filepath.Join(dir, instanceFile), 64)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
		return "", fmt.Errorf("%s: %q is not an instance ID (32 hex digits)", filepath.Join(dir, instanceFile), id)
	}
	return id, nil
}

// ensureInstanceID returns the ID of the instance at dir, making one when
// it has none. Two processes making one at once agree on the first that
// lands (a hard link never replaces a file).
func ensureInstanceID(dir string) (string, error) {
	if id, err := readInstanceID(dir); err != nil || id != "" {
		return id, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+instanceFile+".tmp*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(b[:]) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), filepath.Join(dir, instanceFile)); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	return readInstanceID(dir)
}

// instanceDir is the state directory as an instance names itself in its
// roots' owner pins.
func instanceDir(stateDir string) string {
	if abs, err := filepath.Abs(stateDir); err == nil {
		return abs
	}
	return stateDir
}

// owner reads the root's owner pin: nil when it has none (a root made
// before owner pins existed, or none at all).
func (p pinDir) owner() *Instance {
	target, err := os.Readlink(filepath.Join(p.bpf, ownerPin))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(target, '#')
	if i < 0 {
		return &Instance{StateDir: target}
	}
	return &Instance{StateDir: target[:i], ID: target[i+1:]}
}

// markOwner records this instance as the root's owner, making the
// instance's ID when it has none. Call with the lock held.
func (p pinDir) markOwner() error {
	id, err := ensureInstanceID(p.instance)
	if err != nil {
		return fmt.Errorf("instance ID in %s: %w", p.instance, err)
	}
	path := filepath.Join(p.bpf, ownerPin)
	if cur := p.owner(); cur != nil && cur.ID == id && cur.StateDir == instanceDir(p.instance) {
		return nil
	}
	os.Remove(path) // an owner pin of an older form, or none
	if err := os.Symlink(instanceDir(p.instance)+"#"+id, path); err != nil {
		return fmt.Errorf("pinning the root's owner: %w", err)
	}
	return nil
}

// otherInstance returns the instance that manages the root when that is
// not p's; nil when the root is p's instance's, or says nothing (a root
// made before owner pins existed: its state decides, as before). A root
// whose owner names p's state directory but another ID is p's when p's
// instance has no ID (its state directory was emptied: the root is
// damaged, not foreign); otherwise it is another instance's whose state
// directory has the same path in another mount namespace.
func (p pinDir) otherInstance() *Instance {
	own := p.owner()
	if own == nil {
		return nil
	}
	id, err := readInstanceID(p.instance)
	if err == nil && id != "" && own.ID == id {
		return nil
	}
	if own.StateDir == instanceDir(p.instance) && (err != nil || id == "") {
		return nil
	}
	return own
}

// foreignError says that the root of ifname belongs to another instance.
func (p pinDir) foreignError(ifname string, other *Instance) error {
	return fmt.Errorf("%w: the root of %q is managed by %s, not by this one (state dir %s); ask that instance (its daemon, or its state dir)", ErrOtherInstance, ifname, other, instanceDir(p.instance))
}
