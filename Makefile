# xdpchain. Every target that touches the kernel needs root.
GO      ?= go
BIN     := $(CURDIR)/bin/xdpchain
# Packages with privileged tests; the VM harness runs the same list.
PKGS    ?= ./...

.PHONY: all build generate test test-host vmtest bench demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/xdpchain

generate:
	$(GO) generate ./...

# The whole suite: host kernel, then every Debian kernel under qemu.
test: test-host vmtest

test-host: build
	XDPCHAIN_BIN=$(BIN) XDPCHAIN_TEST_ENV=host $(GO) test -count=1 -v -timeout 30m $(PKGS)

vmtest: build
	$(GO) run ./internal/vmtest/cmd/vmtest

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./dispatcher/

demo: build
	./scripts/demo.sh

clean:
	rm -rf bin
