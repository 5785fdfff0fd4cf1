#!/usr/bin/env bash
# HTTP benchmark on /plaintext, one table per protocol:
#   http   wrk -t1 -c100: cport's native handler, cport's net/http adapter,
#          Go's net/http and fasthttp;
#   https  the same over TLS (wrk, HTTP/1.1): cport native and Go's net/http;
#   h2     HTTP/2 over TLS (ALPN h2; h2load -t1 -c10 -m10, so 100 streams in
#          flight as wrk has 100 connections): cport native (x/net/http2 on
#          an adopted connection) and Go's net/http with its own HTTP/2;
#   h2c    the same in cleartext, with prior knowledge.
# Each server runs pinned to core 0 (GOMAXPROCS=1), the load generator
# pinned to core 1; servers run in interleaved rounds and the tables give
# medians. The figure that matters is the server's CPU per request
# (utime+stime from /proc over the run ÷ requests), since the load
# generator's own core caps requests per second here.
#
#	bash bench/http.sh    ROUNDS=3 DURATION=5s CONNS=100 MODES="http https h2 h2c" by default
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
export PATH="$PATH:/usr/local/go/bin"
rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
conns=${CONNS:-100}
modes=${MODES:-http https h2 h2c}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [[ " $modes " =~ " h2" ]] && ! command -v h2load >/dev/null 2>&1; then
	apt-get update -qq && apt-get install -y -qq nghttp2-client >/dev/null
fi
(cd "$root" && go build -o "$tmp/cport" ./cmd/cport)
(cd "$here" && go build -o "$tmp/fasthttp" ./servers/fasthttp)
# A throwaway certificate for the TLS modes (the load generators do not
# verify it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
tlsflag=(--tls "$tmp/cert.pem,$tmp/key.pem")

servers_of() { # mode
	case $1 in
	http) echo cport-native cport-nethttp nethttp fasthttp ;;
	*) echo cport-native nethttp ;;
	esac
}
reference_of() { # mode: the server the CPU column divides by
	case $1 in
	http) echo fasthttp ;;
	*) echo nethttp ;;
	esac
}
start() { # mode name port
	local extra=()
	case $1 in https | h2) extra=("${tlsflag[@]}") ;; esac
	case $2 in
	cport-native) GOMAXPROCS=1 exec taskset -c 0 "$tmp/cport" http --addr "127.0.0.1:$3" --loops 1 --handler native "${extra[@]}" ;;
	cport-nethttp) GOMAXPROCS=1 exec taskset -c 0 "$tmp/cport" http --addr "127.0.0.1:$3" --loops 1 --handler nethttp "${extra[@]}" ;;
	nethttp) GOMAXPROCS=1 exec taskset -c 0 "$tmp/cport" http --addr "127.0.0.1:$3" --handler stdlib "${extra[@]}" ;;
	fasthttp) GOMAXPROCS=1 exec taskset -c 0 "$tmp/fasthttp" --addr "127.0.0.1:$3" ;;
	esac
}
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# load mode url: prints "requests req/s" for the run.
load() {
	local out
	case $1 in
	http | https)
		out=$(taskset -c 1 wrk -t1 -c"$conns" -d"$duration" "$2")
		awk '/requests in/ {n=$1} /Requests\/sec/ {r=$2} END {print n, r}' <<<"$out" ;;
	h2 | h2c)
		out=$(taskset -c 1 h2load -t1 -c"$((conns / 10))" -m10 -D "${duration%s}" "$2")
		# "finished in 5.00s, 61234.40 req/s, …" and "requests: N total,
		# N started, N done, N succeeded, …"
		awk '/^finished in/ {r=$4} /^requests:/ {n=$8} END {print n, r}' <<<"$out" ;;
	esac
}

port=$((20000 + RANDOM % 20000))
for r in $(seq "$rounds"); do
	for m in $modes; do
		scheme=http
		case $m in https | h2) scheme=https ;; esac
		for s in $(servers_of "$m"); do
			# A port another program took meanwhile (this machine may be
			# shared) costs a retry on the next one, not the run.
			for _ in 1 2 3 4 5; do
				port=$((port + 1))
				start "$m" "$s" "$port" >"$tmp/$m.$s.$r.log" 2>&1 &
				pid=$!
				url="$scheme://127.0.0.1:$port/plaintext"
				for _ in $(seq 50); do
					kill -0 "$pid" 2>/dev/null || break
					curl -ks -o /dev/null "$url" && break
					sleep 0.1
				done
				kill -0 "$pid" 2>/dev/null && break
				grep -q 'address already in use' "$tmp/$m.$s.$r.log" || break
			done
			if ! kill -0 "$pid" 2>/dev/null; then
				echo "$m $s did not start:"; cat "$tmp/$m.$s.$r.log"; exit 1
			fi
			t0=$(cpu_ticks "$pid")
			read -r reqs rps < <(load "$m" "$url")
			t1=$(cpu_ticks "$pid")
			kill "$pid"; wait "$pid" 2>/dev/null || true
			if [ -z "$reqs" ] || [ "$reqs" -eq 0 ]; then
				echo "$m $s: no request succeeded"; exit 1
			fi
			# /proc CPU times are in USER_HZ (100 per second).
			us=$(awk -v t="$((t1 - t0))" -v n="$reqs" 'BEGIN {printf "%.2f", t * 10000 / n}')
			echo "$m $s $rps $us" >>"$tmp/results"
			echo "round $r $m $s: $rps req/s, $us µs CPU/request"
		done
	done
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for m in $modes; do
	ref=$(reference_of "$m")
	echo
	echo "$m:"
	echo
	echo "| server | req/s | server CPU µs/request | CPU ÷ $ref |"
	echo "|---|---:|---:|---:|"
	refus=$(awk -v m="$m" -v s="$ref" '$1==m && $2==s {print $4}' "$tmp/results" | median)
	for s in $(servers_of "$m"); do
		rps=$(awk -v m="$m" -v s="$s" '$1==m && $2==s {print $3}' "$tmp/results" | median)
		us=$(awk -v m="$m" -v s="$s" '$1==m && $2==s {print $4}' "$tmp/results" | median)
		ratio=$(awk -v a="$us" -v b="$refus" 'BEGIN {printf "%.2f", a / b}')
		echo "| $s | $rps | $us | ${ratio}× |"
	done
done
