package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitScript(t *testing.T) {
	runs := []guestRun{
		{Package: "example.com/m/a", Dir: "/src/a", Binary: "/tests/a.test", Args: []string{"-test.v", "-test.run=^(TestA|TestB)$"}},
		{Package: "example.com/m", Dir: "/src/.", Binary: "/tests/root.test"},
	}
	script, err := initScript(runs, guestBin, true)
	if err != nil {
		t.Fatal(err)
	}
	s := string(script)
	for _, want := range []string{
		"mount -t bpf bpf /sys/fs/bpf",
		"cpio -i -d -m < /dev/vda",
		`XDPCHAIN_TEST_ENV="vm:$rel" XDPCHAIN_REQUIRE_FREPLACE=1 XDPCHAIN_PLUGIN_DIR=/usr/local/bin XDPCHAIN_BIN=/bin/xdpchain`,
		`echo "XDPCHAIN-VM: pkg=example.com/m/a start"`,
		`cd /src/a && /tests/a.test -test.v '-test.run=^(TestA|TestB)$'`,
		`echo "XDPCHAIN-VM: pkg=example.com/m rc=$rc`,
		`echo "XDPCHAIN-VM: DONE ok"`,
		"poweroff -f",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("init lacks %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "pkg=example.com/m/a start") > strings.Index(s, "pkg=example.com/m start") {
		t.Error("packages out of order")
	}

	// The script must parse with the host's (or busybox's) sh.
	path := filepath.Join(t.TempDir(), "init")
	if err := os.WriteFile(path, script, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}

	noBin, err := initScript(runs, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(noBin), "/dev/vda") {
		t.Error("payload disk read without a payload disk")
	}
	if strings.Contains(string(noBin), "XDPCHAIN_BIN") {
		t.Error("XDPCHAIN_BIN set without an xdpchain binary")
	}
	if _, err := initScript([]guestRun{{Package: "x$(reboot)"}}, "", false); err == nil {
		t.Error("unsafe package path accepted")
	}
}

func TestShellQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "it's", `"$HOME"`, "^(A|B)$", "`x`", "a\nb"} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if string(out) != s {
			t.Errorf("%q came back as %q", s, out)
		}
	}
}

func Example_shellQuote() {
	fmt.Println(shellQuote("-test.run=^TestA$"), shellQuote("plain-1.2/x"), shellQuote("it's"))
	// Output: '-test.run=^TestA$' plain-1.2/x 'it'\''s'
}
