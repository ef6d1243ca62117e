package host

import (
	"errors"
	"os/user"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	good := Options{Name: "p", Command: "/bin/true", SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Options{
		{Command: "/bin/true"},
		{Name: "p"},
		{Name: "p", Command: "/bin/true", SHA256: "e3b0"},
		{Name: "p", Command: "/bin/true", SHA256: "zz" + good.SHA256[2:]},
		{Name: "p", Command: "/bin/true", MapAccess: "sometimes"},
		{Name: "p", Command: "/bin/true", Settings: map[string]any{"ch": make(chan int)}},
	} {
		if err := bad.validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	var o Options
	if o.startTimeout() != DefaultStartTimeout || o.mapAccess() != MapAccessAuto {
		t.Errorf("defaults: %s %s", o.startTimeout(), o.mapAccess())
	}
	o.User = "nobody"
	if o.mapAccess() != MapAccessBroker {
		t.Errorf("unprivileged plugin gets %s access", o.mapAccess())
	}
	o.MapAccess = MapAccessDirect
	if o.mapAccess() != MapAccessDirect {
		t.Errorf("explicit access overridden: %s", o.mapAccess())
	}
	if b, _ := settingsJSON(nil); string(b) != "{}" {
		t.Errorf("nil settings: %s", b)
	}
}

func TestResolveUser(t *testing.T) {
	names := []string{"65534", "65534:65534"}
	if _, err := user.Lookup("nobody"); err == nil {
		names = append(names, "nobody")
	}
	for _, name := range names {
		c, err := resolveUser(name)
		if err != nil || c.uid != 65534 || c.gid != 65534 {
			t.Errorf("%s: %+v, %v", name, c, err)
		}
	}
	for _, bad := range []string{"no-such-user-xdpchain", "1:x", "a:1"} {
		if _, err := resolveUser(bad); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	o := Options{Name: "p", Command: "true", User: "65534:65534"}
	cmd, err := o.command()
	if err != nil {
		t.Fatal(err)
	}
	if cred := cmd.SysProcAttr.Credential; cred == nil || cred.Uid != 65534 || cred.Gid != 65534 {
		t.Errorf("credential %+v", cmd.SysProcAttr.Credential)
	}
}
