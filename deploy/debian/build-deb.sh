#!/bin/sh
# Builds dist/xdpchain_<version>_<arch>.deb with dpkg-deb (`make deb`):
#   /usr/bin/xdpchain                      the CLI and daemon, version linked in
#   /usr/libexec/xdpchain/xdpchain-*       the example plugins
#   /usr/share/xdpchain/examples/*.o       example BPF objects (deploy/examples.sh)
#   /lib/systemd/system/xdpchain.service   deploy/systemd/xdpchain.service
#   /etc/xdpchain/config.toml              a conffile (deploy/debian/config.toml)
#   bash, zsh and fish completions; man pages generated from the commands
#   /usr/share/doc/xdpchain/               README and the operator documents
# Environment: GO (go), DIST (output directory, dist), GOARCH (the
# package's architecture), XDPCHAIN_VERSION (else deploy/debian/version.sh),
# SOURCE_DATE_EPOCH (else the last commit's time: file dates and man pages).
set -eu
cd "$(dirname "$0")/../.."
GO=${GO:-go}
DIST=${DIST:-dist}
command -v dpkg-deb >/dev/null || { echo "build-deb.sh: dpkg-deb not found (Debian's dpkg package)" >&2; exit 1; }

version=$(deploy/debian/version.sh)
goarch=$($GO env GOARCH)
case $goarch in
amd64 | arm64 | riscv64 | s390x) arch=$goarch ;;
386) arch=i386 ;;
arm) arch=armhf ;;
ppc64le) arch=ppc64el ;;
*) echo "build-deb.sh: no Debian architecture for GOARCH=$goarch" >&2; exit 1 ;;
esac
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH CGO_ENABLED=0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
doc=$root/usr/share/doc/xdpchain
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/libexec/xdpchain" "$root/lib/systemd/system" \
	"$root/etc/xdpchain" "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" \
	"$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d" "$doc"

ldflags="-s -w -X main.version=$version"
$GO build -trimpath -ldflags "$ldflags" -o "$root/usr/bin/xdpchain" ./cmd/xdpchain
for p in blocklist ratelimit; do
	$GO build -trimpath -ldflags "-s -w" -o "$root/usr/libexec/xdpchain/xdpchain-$p" ./plugins/$p/cmd/xdpchain-$p
done

# Completions and man pages come from the commands themselves, run here
# (a copy for this machine when the package is for another architecture).
gen=$root/usr/bin/xdpchain
if [ "$goarch" != "$($GO env GOHOSTARCH)" ]; then
	gen=$work/xdpchain-host
	GOARCH=$($GO env GOHOSTARCH) $GO build -trimpath -ldflags "$ldflags" -o "$gen" ./cmd/xdpchain
fi
"$gen" completion bash >"$root/usr/share/bash-completion/completions/xdpchain"
"$gen" completion zsh >"$root/usr/share/zsh/vendor-completions/_xdpchain"
"$gen" completion fish >"$root/usr/share/fish/vendor_completions.d/xdpchain.fish"
"$gen" man --dir "$root/usr/share/man/man1"
gzip -9n "$root"/usr/share/man/man1/*.1

deploy/examples.sh "$root/usr/share/xdpchain/examples"
install -m 0644 deploy/systemd/xdpchain.service "$root/lib/systemd/system/xdpchain.service"
install -m 0644 deploy/debian/config.toml "$root/etc/xdpchain/config.toml"
install -m 0644 README.md docs/config.md docs/operations.md docs/plugin-guide.md "$doc/"
for s in postinst prerm postrm; do
	install -m 0755 deploy/debian/$s "$root/DEBIAN/$s"
done
echo /etc/xdpchain/config.toml >"$root/DEBIAN/conffiles"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: xdpchain
Version: $version
Architecture: $arch
Maintainer: xdpchain maintainers <maintainers@xdpchain.invalid>
Installed-Size: $size
Section: net
Priority: optional
Homepage: https://github.com/xdpchain/xdpchain
Description: root XDP dispatcher: many XDP programs on one interface
 xdpchain keeps one root dispatcher attached to each interface through a
 pinned bpf_link and runs an ordered chain of XDP programs behind it, with
 atomic changes, per-program verdict counters, plugins and a daemon
 (xdpchain.service) that keeps the chains in line with
 /etc/xdpchain/config.toml.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$DIST"
out=$DIST/xdpchain_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
