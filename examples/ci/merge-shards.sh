#!/bin/sh
# Joins the shards of a faultline matrix into one summary.md, junit.xml and
# index.html under OUT (with a copy of every row's run folder):
#
#   examples/ci/merge-shards.sh OUT SHARD_RESULTS...
#
# Each SHARD_RESULTS is the RESULTS folder of one run-shard.sh. The exit
# code is what an unsharded test-all would have given for all the rows; a
# row in no shard's results, or in several, is an error row (exit 255).
# Environment: FAULTLINE, the faultline binary (default: faultline on PATH).
set -eu
if [ "$#" -lt 2 ]; then
    echo "usage: $0 OUT SHARD_RESULTS..." >&2
    exit 254
fi
out=$1
shift
exec "${FAULTLINE:-faultline}" merge --results "$out" "$@"
