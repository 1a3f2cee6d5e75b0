#!/bin/sh
# node.install for garage.toml: make sure Garage 2.5.0 is installed.
#
# Uses /var/cache/faultline/garage-2.5.0/bin/garage when it exists, else a
# `garage` on PATH that says it is v2.5.0; otherwise builds exactly that
# version with cargo (about 16 minutes on 2 cores, 55 MB binary), under a
# lock so that nodes sharing this machine build it once. garage.sh runs
# whichever is found, the cached one first.
set -eu
VERSION=2.5.0
ROOT=/var/cache/faultline/garage-$VERSION
BIN=$ROOT/bin/garage

[ -x "$BIN" ] && exit 0
if command -v garage >/dev/null 2>&1 && garage --version 2>/dev/null | grep -q "[v:]$VERSION"; then
  exit 0
fi

CARGO=$(command -v cargo 2>/dev/null || true)
[ -z "$CARGO" ] && [ -x "$HOME/.cargo/bin/cargo" ] && CARGO=$HOME/.cargo/bin/cargo
if [ -z "$CARGO" ]; then
  echo "garage_install: Garage $VERSION is not in $ROOT nor on PATH, and cargo is missing to build it: install Rust (https://rustup.rs) or put a garage v$VERSION binary at $BIN" >&2
  exit 1
fi

mkdir -p "$ROOT" /run/lock
echo "garage_install: building Garage $VERSION into $ROOT with cargo (about 16 minutes)" >&2
# Under the lock, check again: another node may have built it meanwhile.
exec flock /run/lock/faultline-install.lock sh -c '
  [ -x "$1/bin/garage" ] && exit 0
  exec "$2" install --locked garage --version "$3" --root "$1"
' garage_install "$ROOT" "$CARGO" "$VERSION"
