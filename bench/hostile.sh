#!/usr/bin/env bash
# Hostile peers against cport's servers as shipped (default limits): for
# each row, PEERS peers of one kind at once (`cport bench hostile`), the
# server pinned to core 0 and the peers to core 1. Each row reports when
# the server closed the peers, its RSS per held peer, and, for the HTTP
# rows, a normal client's latency before and while they are held.
#
#	bash bench/hostile.sh            PEERS=5000 ROUNDS=1 ROWS="all" by default
#
# Rows (ROWS picks some, by id):
#   slowbody   cport http: headers, Content-Length 1000, 10 bytes, silence
#   pipeline   cport http: pipelined GETs, no response read
#   silent     cport http: connects, sends nothing (the keep-alive wait, 60 s)
#   tlsflow    cport echo --style flow --tls: connects, no ClientHello
#   tlscb      cport echo --tls (callbacks): connects, no ClientHello
#   rpcbatch   cport rpc: a 1 MB batch [1,1,...], then reads the reply
#   rpcsilent  cport rpc --idle-timeout 5s: connects, sends nothing
# The JSON-RPC rows hold their peers until the stream's idle timeout,
# 2 minutes by default; rpcbatch keeps that default and its peers are
# counted as held, rpcsilent shortens it to 5 s to show the close.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
export PATH="$PATH:/usr/local/go/bin"
peers=${PEERS:-5000}
rounds=${ROUNDS:-1}
rows=${ROWS:-slowbody pipeline silent tlsflow tlscb rpcbatch rpcsilent}
port=${PORT_BASE:-18100}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || true
(cd "$root" && go build -o "$tmp/cport" ./cmd/cport)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
tls="$tmp/cert.pem,$tmp/key.pem"

# row ID: the server's command (after the binary) and the bench's flags.
row() {
	local addr=127.0.0.1:$port
	case $1 in
	slowbody) server=(http --loops 1 --addr "$addr"); load=(--kind slowbody --normal /plaintext --wait 75s) ;;
	pipeline) server=(http --loops 1 --addr "$addr"); load=(--kind pipeline --normal /plaintext --wait 75s) ;;
	silent) server=(http --loops 1 --addr "$addr"); load=(--kind silent --normal /plaintext --wait 75s) ;;
	tlsflow) server=(echo --style flow --tls "$tls" --loops 1 --addr "$addr"); load=(--kind silent --wait 20s) ;;
	tlscb) server=(echo --tls "$tls" --loops 1 --addr "$addr"); load=(--kind silent --wait 20s) ;;
	rpcbatch) server=(rpc --loops 1 --addr "$addr"); load=(--kind rpcbatch --wait 5s) ;;
	rpcsilent) server=(rpc --idle-timeout 5s --loops 1 --addr "$addr"); load=(--kind silent --wait 20s) ;;
	*) echo "hostile.sh: unknown row $1" >&2; exit 64 ;;
	esac
}

printf '| row | round | peers | closed | last closed after ms | server RSS B/peer | normal p99 µs before | normal p99 µs during |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
for ((r = 1; r <= rounds; r++)); do
	for id in $rows; do
		port=$((port + 1))
		row "$id"
		taskset -c 0 "$tmp/cport" "${server[@]}" >"$tmp/$id.server.log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			grep -q "pid $pid" "$tmp/$id.server.log" 2>/dev/null && break
			sleep 0.05
		done
		out=$(taskset -c 1 "$tmp/cport" bench hostile --addr "127.0.0.1:$port" --peers "$peers" \
			--server-pid "$pid" "${load[@]}" 2>&1 || true)
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		result=$(grep '^RESULT' <<<"$out" | tail -n 1)
		if [[ -z "$result" ]]; then
			printf '%s\n' "$out" >&2
			printf '| %s | %d | no result |||||\n' "$id" "$r"
			continue
		fi
		get() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" ${result#RESULT }"; }
		p99b=$(get normal_p99_us_before) p99d=$(get normal_p99_us_during)
		[[ "$p99b" == 0 ]] && p99b=— && p99d=—
		printf '| %s | %d | %s | %s | %s | %s | %s | %s |\n' "$id" "$r" "$(get peers)" "$(get closed)" \
			"$(get last_close_ms)" "$(get rss_bytes_per_peer)" "$p99b" "$p99d"
	done
done
