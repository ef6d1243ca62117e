#!/bin/sh
# Prints xdpchain's version for builds and packages, from `git describe`:
# a tag v1.2.3 gives 1.2.3, 5 commits after it 1.2.3+5.gabc1234; with no
# tag, 0.0.0+git.N.gabc1234 (N commits); a dirty tree adds .dirty. The
# result is a valid Debian version (starts with a digit, no '-'). Without
# git: 0.0.0+unknown. $XDPCHAIN_VERSION overrides all of it.
set -eu
if [ -n "${XDPCHAIN_VERSION:-}" ]; then
	echo "$XDPCHAIN_VERSION"
	exit 0
fi
cd "$(dirname "$0")/../.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo 0.0.0+unknown
	exit 0
fi
dirty=
if ! git diff --quiet HEAD 2>/dev/null; then
	dirty=.dirty
fi
if d=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
	# v1.2.3 or v1.2.3-5-gabc1234
	echo "$d" | sed -e 's/^v//' -e 's/-\([0-9]*\)-g\([0-9a-f]*\)$/+\1.g\2/' -e "s/\$/$dirty/"
else
	echo "0.0.0+git.$(git rev-list --count HEAD).g$(git rev-parse --short HEAD)$dirty"
fi
