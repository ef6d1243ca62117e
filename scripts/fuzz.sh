#!/usr/bin/env bash
# Fuzzes every parser of untrusted input for a bounded time each
# (FUZZTIME, default 20s): the config loader, object intake, the
# .xdp_run_config parser, the state-file reader and the control socket's
# request decoding. Any finding (a crash, a failed check, a hang) fails the
# run; the input that found it is written to the package's
# testdata/fuzz/FuzzXxx/ (commit it with the fix: it becomes a seed, and
# `go test` runs every seed as a regular test). No root, no kernel.
#
#   scripts/fuzz.sh                 # every target
#   scripts/fuzz.sh FuzzParse       # the targets named
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}

# package target
targets=(
	"./config FuzzParse"
	"./dispatcher FuzzNewProgram"
	"./dispatcher FuzzParseRunConfig"
	"./dispatcher FuzzReadState"
)

want=" $* "
failed=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if [ $# -gt 0 ] && [[ $want != *" $name "* ]]; then
		continue
	fi
	echo "fuzz: $pkg $name for $FUZZTIME"
	start=$(date +%s)
	if ! $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"; then
		failed+=("$pkg $name")
	fi
	echo "fuzz: $pkg $name took $(( $(date +%s) - start ))s"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]} (the failing inputs are in each package's testdata/fuzz/)" >&2
	exit 1
fi
echo "fuzz: every target passed"
