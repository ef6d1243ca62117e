package chain

import (
	"errors"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
)

func TestOwnerStrings(t *testing.T) {
	for _, o := range []Owner{PluginOwner("bl"), ConfigOwner("guard"), UserOwner(1000), {}} {
		back, err := ParseOwner(o.String())
		if err != nil || back != o {
			t.Errorf("ParseOwner(%q) = %+v, %v", o.String(), back, err)
		}
	}
	if s := UserOwner(7).String(); s != "user:7" {
		t.Errorf("UserOwner(7) = %q", s)
	}
	for _, bad := range []string{"plugin", "plugin:", "team:x"} {
		if _, err := ParseOwner(bad); !errors.Is(err, dispatcher.ErrInvalid) {
			t.Errorf("ParseOwner(%q): %v, want ErrInvalid", bad, err)
		}
	}
	if !PluginOwner("x").Managed() || !ConfigOwner("x").Managed() || UserOwner(0).Managed() {
		t.Error("Managed is wrong")
	}
	if !UserOwner(5).IsUser(5) || UserOwner(5).IsUser(6) || !(Owner{OwnerUser, "root"}).IsUser(0) {
		t.Error("IsUser is wrong")
	}
}

func TestMayChange(t *testing.T) {
	root, user, other, daemon := Actor{UID: 0}, Actor{UID: 1000}, "user:1001", Actor{Daemon: true}
	for _, tc := range []struct {
		name  string
		a     Actor
		owner string
		force bool
		want  error
	}{
		{"own", user, "user:1000", false, nil},
		{"root's own", root, "user:0", false, nil},
		{"another user's", user, other, true, ErrPermission},
		{"root, another user's", root, other, false, ErrOwned},
		{"root forces", root, other, true, nil},
		{"root forces an unowned one", root, "", true, nil},
		{"user, unowned", user, "", true, ErrPermission},
		{"root, config's", root, "config:x", true, ErrOwned},
		{"user, plugin's", user, "plugin:x", true, ErrPermission},
		{"daemon, config's", daemon, "config:x", false, nil},
		{"daemon, plugin's", daemon, "plugin:x", false, nil},
		{"daemon, a user's", daemon, "user:0", true, ErrOwned},
		{"daemon, unowned", daemon, "", true, ErrOwned},
	} {
		err := MayChange(tc.a, tc.owner, tc.force)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
