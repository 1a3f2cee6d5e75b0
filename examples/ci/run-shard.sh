#!/bin/sh
# One machine's shard of a faultline matrix: what each CI job of a sharded
# nightly runs (examples/ci/github-actions.yml, kubernetes-indexed-job.yaml).
#
#   examples/ci/run-shard.sh MATRIX I N RESULTS
#
# runs shard I of N (I from 1) of MATRIX into the folder RESULTS. Row k of
# the matrix (from 0, in file order) belongs to shard (k mod N) + 1. The
# exit code is test-all's for this shard's rows: 0 all as expected, 1 a row
# differs, 255 a row's run failed. Environment:
#   FAULTLINE       the faultline binary (default: faultline on PATH)
#   FAULTLINE_JOBS  rows run at once on this machine (default 1)
# tests/integration/ci_examples.rs runs the exact commands of both examples with this
# script on a small matrix.
set -eu
if [ "$#" -ne 4 ]; then
    echo "usage: $0 MATRIX I N RESULTS (shard I of N, from 1)" >&2
    exit 254
fi
exec "${FAULTLINE:-faultline}" test-all --matrix "$1" --shard "$2/$3" \
    --results "$4" --jobs "${FAULTLINE_JOBS:-1}"
