#!/bin/sh
# fuzz/run.sh TARGET [libFuzzer options]: run fuzz/fuzz-TARGET (built by
# make fuzz) at the lowest priority over its seeds (fuzz/corpus/TARGET),
# with fuzz/TARGET.dict when there is one. New inputs and any crash-*
# file go to a scratch directory it prints, not to the committed seeds.
# Example:
#   fuzz/run.sh json -runs=10000000
# FUZZ_BIN=DIR runs DIR/fuzz-TARGET instead (a copy, which a rebuild
# during a long run leaves alone).
set -eu
[ $# -ge 1 ] || { echo "usage: fuzz/run.sh TARGET [libFuzzer options]" >&2; exit 2; }
t=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
bin=${FUZZ_BIN:-fuzz}/fuzz-$t
[ -x "$bin" ] || { echo "fuzz/run.sh: $bin not built (make fuzz)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/venueless-fuzz-$t.XXXXXX")
echo "fuzz/run.sh: new inputs and crashes in $work" >&2
mkdir "$work/corpus"
set -- -artifact_prefix="$work/" "$@"
[ -f "$here/$t.dict" ] && set -- -dict="$here/$t.dict" "$@"
exec nice -n 19 "$bin" "$@" "$work/corpus" "$here/corpus/$t"
