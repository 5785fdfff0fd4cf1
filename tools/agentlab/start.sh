#!/usr/bin/env bash
# start.sh N [DIR]: starts herd agents serving N loopback addresses
# (127.0.1.1 ... 127.0.1.250, 127.0.2.1, ...), each address a distinct
# host for herd run --agent. Stop them with stop.sh DIR.
#
# DIR (default /tmp/agentlab) receives a fresh CA (DIR/ca), a controller
# certificate (ops), one agent certificate per agent process naming its
# addresses, the agents' logs and pids, the herd binary, DIR/hosts (the
# node set of all N addresses) and DIR/env (HERD_AGENT_ARGS, the flags
# herd run needs). For example:
#
#	tools/agentlab/start.sh 10000
#	. /tmp/agentlab/env
#	$HERD run $HERD_AGENT_ARGS -f 1000 -q "$(cat /tmp/agentlab/hosts)" -- true
#	tools/agentlab/stop.sh /tmp/agentlab
#
# Each agent process listens on up to PER_AGENT addresses (default 2500)
# at PORT (default 7722) with one event loop: every address is a listener
# socket, every host a connection and its command three descriptors, so
# 2500 keep an agent well below a 20000 open-file cap. HERD names a herd
# binary to use instead of building one.
set -euo pipefail

usage() { echo "usage: $0 N [DIR]" >&2; exit 64; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
n=$1
dir=${2:-/tmp/agentlab}
per=${PER_AGENT:-2500}
port=${PORT:-7722}
case $n in ''|*[!0-9]*) usage ;; esac
[ "$n" -ge 1 ] && [ "$n" -le $((250 * 254)) ] || { echo "agentlab: N must be 1 to $((250 * 254))" >&2; exit 64; }
[ $((per % 250)) -eq 0 ] || { echo "agentlab: PER_AGENT must be a multiple of 250" >&2; exit 64; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
for p in "$dir"/agent*.pid; do
	if [ -e "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null; then
		echo "agentlab: agents already run in $dir (stop.sh $dir first)" >&2
		exit 1
	fi
done
rm -rf "$dir/ca" "$dir"/agent*.log "$dir"/agent*.pid

herd=${HERD:-}
if [ -z "$herd" ]; then
	src=$(cd "$(dirname "$0")/../.." && pwd)
	(cd "$src" && go build -o "$dir/herd" ./cmd/herd)
	herd=$dir/herd
fi

"$herd" ca init "$dir/ca" >/dev/null
"$herd" ca issue "$dir/ca" --controller ops >/dev/null

# rows prints the node set of addresses first..last (0-based), a row of
# 250 per third octet.
rows() {
	local first=$1 last=$2 expr="" i=$1
	while [ "$i" -le "$last" ]; do
		local row=$((i / 250 + 1)) lo=$((i % 250 + 1))
		local end=$(((i / 250 + 1) * 250 - 1))
		[ "$end" -le "$last" ] || end=$last
		local hi=$((end % 250 + 1))
		expr="${expr:+$expr,}127.0.$row.[$lo-$hi]"
		i=$((end + 1))
	done
	echo "$expr"
}

agents=0
for ((first = 0; first < n; first += per)); do
	last=$((first + per - 1))
	[ "$last" -lt "$n" ] || last=$((n - 1))
	set_expr=$(rows "$first" "$last")
	name=agent$agents
	"$herd" ca issue "$dir/ca" --agent "$name" --san "$set_expr" >/dev/null
	"$herd" agent --listen "$set_expr" --port "$port" --loops 1 --log-level warn \
		--ca "$dir/ca/ca.crt" --cert "$dir/ca/$name.crt" --key "$dir/ca/$name.key" \
		>"$dir/$name.log" 2>&1 &
	echo $! >"$dir/$name.pid"
	agents=$((agents + 1))
done

# Ready when every agent says it listens.
for ((i = 0; i < agents; i++)); do
	for _ in $(seq 1 300); do
		grep -q "listening on" "$dir/agent$i.log" && break
		if ! kill -0 "$(cat "$dir/agent$i.pid")" 2>/dev/null; then
			echo "agentlab: agent$i died:" >&2
			cat "$dir/agent$i.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	grep -q "listening on" "$dir/agent$i.log" || { echo "agentlab: agent$i not listening after 30 s" >&2; exit 1; }
done

rows 0 $((n - 1)) >"$dir/hosts"
cat >"$dir/env" <<ENV
HERD=$herd
HERD_AGENT_ARGS="--agent --ca $dir/ca/ca.crt --cert $dir/ca/ops.crt --key $dir/ca/ops.key --agent-port $port"
ENV
echo "agentlab: $agents agent processes serve $n addresses on port $port; hosts in $dir/hosts, flags in $dir/env" >&2
