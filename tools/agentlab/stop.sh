#!/usr/bin/env bash
# stop.sh [DIR]: stops the agents start.sh started in DIR (default
# /tmp/agentlab); their running commands die with them.
set -euo pipefail
dir=${1:-/tmp/agentlab}
for p in "$dir"/agent*.pid; do
	[ -e "$p" ] || continue
	pid=$(cat "$p")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$p"
done
