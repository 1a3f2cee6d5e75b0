#!/bin/sh
# Runs Garage 2.5.0 (what garage_install.sh found or built) with these
# arguments, by exec: faultline's pid is Garage's own, for kill and pause.
BIN=/var/cache/faultline/garage-2.5.0/bin/garage
[ -x "$BIN" ] || BIN=$(command -v garage) || {
  echo "garage.sh: no garage binary at /var/cache/faultline/garage-2.5.0/bin/garage nor on PATH (node.install runs garage_install.sh)" >&2
  exit 127
}
exec "$BIN" "$@"
