# xdpchain. Every target that touches the kernel needs root.
GO      ?= go
BIN     := $(CURDIR)/bin/xdpchain
# Packages with privileged tests; the VM harness runs the same list.
PKGS    ?= ./...

.PHONY: all build generate test test-host vmtest bench bench-vm demo deb clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/xdpchain
	$(GO) build -o bin/xdpchain-blocklist ./plugins/blocklist/cmd/xdpchain-blocklist
	$(GO) build -o bin/xdpchain-ratelimit ./plugins/ratelimit/cmd/xdpchain-ratelimit
	./deploy/examples.sh bin/examples    # counter.o, dropport.o (README: Using it)

generate:
	$(GO) generate ./...

# The whole suite: host kernel, then every Debian kernel under qemu.
test: test-host vmtest

# deploy/ holds the runtime tests (nspawn, podman, the upgrade from the
# previous release tag); their first run fills the caches (debootstrap, the
# base images, the image's build cache), which takes most of the timeout
# on a busy 2-core machine; later runs take minutes.
test-host: build
	XDPCHAIN_BIN=$(BIN) XDPCHAIN_TEST_ENV=host $(GO) test -count=1 -v -timeout 45m $(PKGS)

# The harness builds its own static test binaries and commands.
VMTEST_FLAGS ?=
vmtest:
	$(GO) run ./internal/vmtest/cmd/vmtest $(VMTEST_FLAGS)

# The side-by-side table of docs/benchmarks.md (plain, libxdp, xdpchain freplace and linked)
# in each Debian kernel.
bench-vm:
	$(GO) run ./internal/vmtest/cmd/vmtest -pkgs ./internal/bench -bench Table $(VMTEST_FLAGS)

# The ns/packet table (BPF_PROG_TEST_RUN), with ratios measured in the same run.
bench: build
	$(BIN) bench

demo: build
	./scripts/demo.sh

# dist/xdpchain_<version>_<arch>.deb (dpkg-deb): the binaries with the
# version from `git describe` linked in, the systemd unit, the config as a
# conffile, completions and man pages. See deploy/debian/build-deb.sh.
deb:
	GO=$(GO) ./deploy/debian/build-deb.sh

clean:
	rm -rf bin dist
