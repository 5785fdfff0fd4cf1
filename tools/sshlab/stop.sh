#!/usr/bin/env bash
# stop.sh DIR: stops the lab sshd start.sh DIR started. Connections it
# still serves run on in their own processes until their clients leave.
# DIR itself stays (its log may be wanted); remove it after.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 64; }
pidfile=$1/sshd.pid
[ -e "$pidfile" ] || { echo "sshlab: no lab in $1" >&2; exit 1; }
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
	kill -TERM "$pid"
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
