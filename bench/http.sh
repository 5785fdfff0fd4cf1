#!/usr/bin/env bash
# HTTP benchmark: wrk -t1 -c100 on /plaintext against cport's native
# handler, cport's net/http adapter, Go's net/http and fasthttp. Each server
# runs pinned to core 0 (GOMAXPROCS=1), wrk pinned to core 1; servers run in
# interleaved rounds and the table gives medians. The figure that matters
# is the server's CPU per request (utime+stime from /proc over the run ÷
# requests), since wrk's own core caps requests per second here.
#
#	bash bench/http.sh            ROUNDS=3 DURATION=5s CONNS=100 by default
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
export PATH="$PATH:/usr/local/go/bin"
rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
conns=${CONNS:-100}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
(cd "$root" && go build -o "$tmp/cport" ./cmd/cport)
(cd "$here" && go build -o "$tmp/fasthttp" ./servers/fasthttp)

servers=(cport-native cport-nethttp nethttp fasthttp)
start() { # name port
	case $1 in
	cport-native) GOMAXPROCS=1 exec taskset -c 0 "$tmp/cport" http --addr "127.0.0.1:$2" --loops 1 --handler native ;;
	cport-nethttp) GOMAXPROCS=1 exec taskset -c 0 "$tmp/cport" http --addr "127.0.0.1:$2" --loops 1 --handler nethttp ;;
	nethttp) GOMAXPROCS=1 exec taskset -c 0 "$tmp/cport" http --addr "127.0.0.1:$2" --handler stdlib ;;
	fasthttp) GOMAXPROCS=1 exec taskset -c 0 "$tmp/fasthttp" --addr "127.0.0.1:$2" ;;
	esac
}
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

port=$((20000 + RANDOM % 20000))
for r in $(seq "$rounds"); do
	for s in "${servers[@]}"; do
		port=$((port + 1))
		start "$s" "$port" >"$tmp/$s.$r.log" 2>&1 &
		pid=$!
		for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/plaintext" && break; sleep 0.1; done
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$s did not start:"; cat "$tmp/$s.$r.log"; exit 1
		fi
		t0=$(cpu_ticks "$pid")
		out=$(taskset -c 1 wrk -t1 -c"$conns" -d"$duration" "http://127.0.0.1:$port/plaintext")
		t1=$(cpu_ticks "$pid")
		kill "$pid"; wait "$pid" 2>/dev/null || true
		reqs=$(awk '/requests in/ {print $1}' <<<"$out")
		rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
		# /proc CPU times are in USER_HZ (100 per second).
		us=$(awk -v t="$((t1 - t0))" -v n="$reqs" 'BEGIN {printf "%.2f", t * 10000 / n}')
		echo "$s $rps $us" >>"$tmp/results"
		echo "round $r $s: $rps req/s, $us µs CPU/request"
	done
done

echo
echo "| server | req/s | server CPU µs/request | CPU ÷ fasthttp |"
echo "|---|---:|---:|---:|"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fast=$(awk '$1=="fasthttp" {print $3}' "$tmp/results" | median)
for s in "${servers[@]}"; do
	rps=$(awk -v s="$s" '$1==s {print $2}' "$tmp/results" | median)
	us=$(awk -v s="$s" '$1==s {print $3}' "$tmp/results" | median)
	ratio=$(awk -v a="$us" -v b="$fast" 'BEGIN {printf "%.2f", a / b}')
	echo "| $s | $rps | $us | ${ratio}× |"
done
