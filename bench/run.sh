#!/usr/bin/env bash
# Echo benchmark: cport against Go net, gnet v2, nbio and a C io_uring floor.
#
# Each server runs pinned to one core (SERVER_CPU, default 0), the load
# generator pinned to another (LOAD_CPU, default 1). There are two load
# generators: `cport bench echo`, built on cport, and bench/loadgen, built
# on Go's net package alone (a goroutine per connection), so that neither
# generator's own behaviour goes unchecked. Every scenario runs every
# generator against every server in interleaved rounds (per round: each
# generator, each server) and reports the median of each metric, as
# Markdown tables on stdout with a column per generator.
#
# Environment:
#   LOADGEN     cport, gonet or both (default both): which load generators
#   CPORT_BIN   cport binary (default: built from the repo root, ./cmd/cport)
#   DURATION    load duration per run (default 10s; a bare number means seconds)
#   ROUNDS      interleaved rounds per scenario (default 3)
#   QUICK=1     smoke run: DURATION=2s, ROUNDS=1
#   SERVERS     which servers, in order (default: all; see server_cmd below)
#   SCENARIOS   which scenarios by id (default: all; see scenario list below)
#   BATCH_WAIT  cport-nobatch's --batch-wait (default 0: none), against
#               cport echo's default (loop.DefaultBatchWait, opened only
#               while data arrives fast enough)
#   SERVER_CPU, LOAD_CPU   cores to pin to (default 0 and 1)
#   HOST        address to listen on (default 127.0.0.1)
#   PORT_BASE   first TCP port; each run takes the next (default 17000)
#   LOGDIR      where each run's server and load output goes (default: a new
#               directory under /tmp, printed at the end; kept)
#   OUT         also write the tables to this file
#
# The load generator must end its output with one line of the form
#   RESULT msgs_per_sec=… p50_us=… p99_us=… cpu_us_per_msg=… load_cpu_pct=… rss_bytes_per_conn=…
# (key=value pairs separated by spaces, in any order; other keys are ignored).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
if [[ "${QUICK:-0}" == 1 ]]; then
	DURATION=2s
	ROUNDS=1
fi
if [[ "$DURATION" =~ ^[0-9]+$ ]]; then DURATION="${DURATION}s"; fi
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
HOST=${HOST:-127.0.0.1}
port=${PORT_BASE:-17000}
SERVERS=${SERVERS:-"cport-uring cport-epoll cport-flow cport-min cport-nobatch uring-c gnet nbio gonet"}
BATCH_WAIT=${BATCH_WAIT:-0}
LOADGEN=${LOADGEN:-both}
case $LOADGEN in
cport) GENS=(cport) ;;
gonet) GENS=(gonet) ;;
both) GENS=(cport gonet) ;;
*)
	printf 'run.sh: LOADGEN=%s: want cport, gonet or both\n' "$LOADGEN" >&2
	exit 1
	;;
esac

# Scenarios: id | title | load arguments (besides --addr, --duration, --server-pid),
# the same for both load generators.
# With --idle the load generator only opens, echoes once on and holds the
# connections, and reports RSS per connection. With --burst it opens them
# all silently, waits until the server holds every one, then has all echo
# once at the same moment, and holds them: the memory a server keeps after
# a simultaneous burst, against --idle's one after another.
SCENARIO_LIST=(
	"64x100|64 B × 100 conns|--conns 100 --size 64"
	"64x1000|64 B × 1000 conns|--conns 1000 --size 64"
	"64x1000r20k|64 B × 1000 conns paced to 20,000 msgs/s|--conns 1000 --size 64 --rate 20000"
	"16kx50|16 KiB × 50 conns|--conns 50 --size 16384"
	"idle9000|idle 9000 conns, echoed once one after another|--idle 9000"
	"burst9000|idle 9000 conns after all echoed at the same moment|--burst 9000"
)
SCENARIOS=${SCENARIOS:-"64x100 64x1000 64x1000r20k 16kx50 idle9000 burst9000"}

METRICS=(msgs_per_sec p50_us p99_us cpu_us_per_msg load_cpu_pct rss_bytes_per_conn pss_bytes_per_conn server_peak_rss_mb)

log() { printf '%s\n' "$*" >&2; }
die() {
	log "run.sh: $*"
	exit 1
}

# ---------------------------------------------------------------- setup
for tool in go taskset awk sort; do
	command -v "$tool" >/dev/null || die "needs $tool on PATH (taskset is in util-linux)"
done
ncpu=$(getconf _NPROCESSORS_ONLN)
((ncpu >= 2)) || log "warning: only $ncpu CPU online; server and load will share it"

# Open files: the idle scenario needs 9,000+ per process.
hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || log "warning: could not raise ulimit -n to $hard"
log "ulimit -n: $(ulimit -n)"

# liburing for the C floor server.
have_uring_c=1
if [[ ! -f /usr/include/liburing.h ]]; then
	if command -v apt-get >/dev/null; then
		sudo=""
		((EUID == 0)) || sudo=$(command -v sudo || true)
		log "installing liburing-dev (for the C io_uring server)…"
		if ! { $sudo apt-get install -y liburing-dev >/dev/null 2>&1 ||
			{ $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y liburing-dev >/dev/null 2>&1; }; }; then
			log "could not install liburing-dev; the uring-c row is skipped"
			have_uring_c=0
		fi
	else
		log "liburing.h is missing and apt-get is unavailable: install liburing (headers and library)" \
			"with your package manager to get the uring-c row; skipping it"
		have_uring_c=0
	fi
fi
command -v cc >/dev/null || {
	log "no C compiler (cc); the uring-c row is skipped"
	have_uring_c=0
}

tmp=$(mktemp -d /tmp/cport-bench-build.XXXXXX)
LOGDIR=${LOGDIR:-$(mktemp -d /tmp/cport-bench-logs.XXXXXX)}
mkdir -p "$LOGDIR"
server_pid=""
cleanup() {
	if [[ -n "$server_pid" ]]; then stop_server; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building servers…"
(cd "$here" && go build -o "$tmp/" ./servers/gonet ./servers/gnet ./servers/nbio ./loadgen && go build -o "$tmp/cport-min" ./servers/cport) || die "go build of bench/servers or bench/loadgen failed"
if ((have_uring_c)); then
	cc -O2 -Wall -o "$tmp/uring-c" "$here/servers/uring-c/echo.c" -luring || {
		log "cc failed; the uring-c row is skipped"
		have_uring_c=0
	}
fi
if [[ -z "${CPORT_BIN:-}" ]]; then
	(cd "$root" && go build -o "$tmp/cport" ./cmd/cport) || die "go build ./cmd/cport failed (or set CPORT_BIN)"
	CPORT_BIN="$tmp/cport"
fi
[[ -x "$CPORT_BIN" ]] || die "CPORT_BIN=$CPORT_BIN is not executable"

gnet_v=$(awk '$1=="github.com/panjf2000/gnet/v2"{print $2}' "$here/go.mod")
nbio_v=$(awk '$1=="github.com/lesismal/nbio"{print $2}' "$here/go.mod")

server_title() {
	case $1 in
	cport-uring) echo "cport (uring)" ;;
	cport-epoll) echo "cport (epoll)" ;;
	cport-flow) echo "cport flows (uring)" ;;
	cport-min) echo "cport minimal (uring)" ;;
	cport-nobatch) echo "cport (uring, --batch-wait ${BATCH_WAIT})" ;;
	uring-c) echo "C io_uring (liburing)" ;;
	gnet) echo "gnet $gnet_v" ;;
	nbio) echo "nbio $nbio_v" ;;
	gonet) echo "Go net" ;;
	*) echo "$1" ;;
	esac
}

# server_cmd NAME ADDR: sets cmd to the command line of one server.
server_cmd() {
	local addr=$2
	case $1 in
	cport-uring) cmd=("$CPORT_BIN" echo --addr "$addr" --loops 1 --backend uring) ;;
	cport-epoll) cmd=("$CPORT_BIN" echo --addr "$addr" --loops 1 --backend epoll) ;;
	cport-flow) cmd=("$CPORT_BIN" echo --addr "$addr" --loops 1 --backend uring --style flow) ;;
	cport-min) cmd=("$tmp/cport-min" --addr "$addr" --loops 1 --backend uring) ;;
	cport-nobatch) cmd=("$CPORT_BIN" echo --addr "$addr" --loops 1 --backend uring --batch-wait "$BATCH_WAIT") ;;
	uring-c) cmd=("$tmp/uring-c" --addr "$addr") ;;
	gnet) cmd=("$tmp/gnet" --addr "$addr" --loops 1) ;;
	nbio) cmd=("$tmp/nbio" --addr "$addr" --loops 1) ;;
	gonet) cmd=("$tmp/gonet" --addr "$addr") ;;
	*) die "unknown server $1 (known: cport-uring cport-epoll cport-flow cport-min cport-nobatch uring-c gnet nbio gonet)" ;;
	esac
}

gen_title() {
	case $1 in
	cport) echo "cport" ;;
	gonet) echo "loadgen" ;;
	esac
}

# load_cmd GEN: sets cmd to the command line of one load generator, before
# its arguments.
load_cmd() {
	case $1 in
	cport) cmd=("$CPORT_BIN" bench echo) ;;
	gonet) cmd=("$tmp/loadgen") ;;
	esac
}

# A load generator that hangs is killed after three times the duration plus
# two minutes (for the idle scenario's connection setup).
guard=()
if command -v timeout >/dev/null; then
	secs=600
	if [[ "$DURATION" =~ ^([0-9]+)s$ ]]; then secs=${BASH_REMATCH[1]}; fi
	if [[ "$DURATION" =~ ^([0-9]+)m$ ]]; then secs=$((BASH_REMATCH[1] * 60)); fi
	guard=(timeout --kill-after=10 $((secs * 3 + 120)))
fi

active=()
for s in $SERVERS; do
	server_cmd "$s" x
	if [[ $s == uring-c ]] && ((!have_uring_c)); then continue; fi
	active+=("$s")
done

# ---------------------------------------------------------------- one run
# listening PORT: true when some socket listens on PORT (no connection made).
listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" 'NR>1 && $4=="0A" && substr($2, length($2)-4)==p {f=1} END {exit !f}' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

stop_server() {
	local pid=$server_pid
	server_pid=""
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# run_one SCENARIO_ID LOAD_ARGS SERVER ROUND GEN: sets result to the RESULT
# line of the run, or to nothing.
run_one() {
	result=""
	local sid=$1 largs=$2 srv=$3 round=$4 gen=$5
	local addr="$HOST:$port" base="$LOGDIR/$sid.$srv.$gen.r$round"
	while listening "$port"; do port=$((port + 1)); addr="$HOST:$port"; done
	port=$((port + 1))

	server_cmd "$srv" "$addr"
	taskset -c "$SERVER_CPU" "${cmd[@]}" >"$base.server.log" 2>&1 &
	server_pid=$!
	local ok=0
	for _ in $(seq 200); do
		if listening "${addr##*:}"; then ok=1; break; fi
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	if ((!ok)); then
		log "  $srv: did not listen on $addr (see $base.server.log)"
		stop_server
		return 0
	fi

	load_cmd "$gen"
	# shellcheck disable=SC2086
	"${guard[@]}" taskset -c "$LOAD_CPU" "${cmd[@]}" --addr "$addr" $largs \
		--duration "$DURATION" --server-pid "$server_pid" >"$base.load.log" 2>&1 || true
	if ! kill -0 "$server_pid" 2>/dev/null; then
		log "  $srv: server exited during the run (see $base.server.log)"
	fi
	# The server's peak resident memory over the run (VmHWM), read by
	# this script rather than the generator: the same for both.
	local peak
	peak=$(awk '/^VmHWM:/ {print $2 / 1024}' "/proc/$server_pid/status" 2>/dev/null || true)
	stop_server
	result=$(grep -E '^RESULT( |$)' "$base.load.log" | tail -n 1 || true)
	if [[ -z "$result" ]]; then
		log "  $srv: no RESULT line from the load generator (see $base.load.log)"
	elif [[ -n "$peak" ]]; then
		result+=" server_peak_rss_mb=$peak"
	fi
}

# metric_of LINE KEY: the value of KEY in a RESULT line, or nothing.
metric_of() {
	awk -v k="$2" '{for (i = 2; i <= NF; i++) {n = index($i, "="); if (n && substr($i, 1, n-1) == k) v = substr($i, n+1)}} END {if (v != "") print v}' <<<"$1"
}

# median of the numbers in $@ (empty when none).
median() {
	printf '%s\n' "$@" | awk 'NF && $1+0==$1' | sort -g | awk '{a[NR]=$1} END {if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

fmt() { # fmt PRINTF_FORMAT VALUE
	if [[ -z "$2" ]]; then echo "n/a"; else awk -v f="$1" -v v="$2" 'BEGIN {printf f, v}'; fi
}

ratio() { # ratio VALUE REF
	if [[ -z "$1" || -z "$2" ]] || awk -v r="$2" 'BEGIN {exit !(r+0 == 0)}'; then
		echo "n/a"
	else
		awk -v v="$1" -v r="$2" 'BEGIN {printf "%.2f×", v / r}'
	fi
}

emit() {
	printf '%s\n' "$*"
	if [[ -n "${OUT:-}" ]]; then printf '%s\n' "$*" >>"$OUT"; fi
}

# ---------------------------------------------------------------- scenarios
if [[ -n "${OUT:-}" ]]; then : >"$OUT"; fi
emit "# Echo benchmark"
emit ""
emit "$(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(go env GOVERSION), duration $DURATION, $ROUNDS round(s), median per metric; server on core $SERVER_CPU, load on core $LOAD_CPU; load generators: ${GENS[*]/gonet/loadgen (Go net)}."

# cols METRIC: the metric's columns header cells, one per generator.
cols() {
	local g out=""
	for g in "${GENS[@]}"; do out+=" $1 [$(gen_title "$g")] |"; done
	printf '%s' "$out"
}
rule() { # rule N: N right-aligned Markdown columns
	local i out=""
	for ((i = 0; i < $1; i++)); do out+="---:|"; done
	printf '%s' "$out"
}

declare -A vals
for entry in "${SCENARIO_LIST[@]}"; do
	IFS='|' read -r sid title largs <<<"$entry"
	if [[ " $SCENARIOS " != *" $sid "* ]]; then continue; fi
	log "== $title =="
	for ((r = 1; r <= ROUNDS; r++)); do
		for gen in "${GENS[@]}"; do
			for srv in "${active[@]}"; do
				log "  round $r/$ROUNDS: $(gen_title "$gen") → $srv"
				run_one "$sid" "$largs" "$srv" "$r" "$gen"
				if [[ -n "$result" ]]; then log "    $result"; fi
				for m in "${METRICS[@]}"; do
					v=$(metric_of "$result" "$m")
					vals[$sid.$srv.$gen.$m]="${vals[$sid.$srv.$gen.$m]:-} $v"
				done
			done
		done
	done

	declare -A med=()
	for srv in "${active[@]}"; do
		for gen in "${GENS[@]}"; do
			for m in "${METRICS[@]}"; do
				# shellcheck disable=SC2086
				med[$srv.$gen.$m]=$(median ${vals[$sid.$srv.$gen.$m]:-})
			done
		done
	done

	emit ""
	emit "## $title"
	emit ""
	ng=${#GENS[@]}
	if [[ " $largs " == *" --idle "* || " $largs " == *" --burst "* ]]; then
		# Memory scenarios fill only the memory columns.
		emit "| server |$(cols "RSS B/conn")$(cols "Pss B/conn")"
		emit "|---|$(rule $((2 * ng)))"
		for srv in "${active[@]}"; do
			row="| $(server_title "$srv") |"
			for m in rss_bytes_per_conn pss_bytes_per_conn; do
				for gen in "${GENS[@]}"; do row+=" $(fmt '%.0f' "${med[$srv.$gen.$m]}") |"; done
			done
			emit "$row"
		done
	else
		# "load CPU %" is the load generator's use of its core: near 100,
		# it, not the server, sets msgs/s.
		emit "| server |$(cols "msgs/s")$(cols "p50 µs")$(cols "p99 µs")$(cols "server CPU µs/msg")$(cols "load CPU %")$(cols "server peak RSS MB")$(cols "msgs/s ÷ cport (uring)")$(cols "CPU/msg ÷ cport (uring)")"
		emit "|---|$(rule $((8 * ng)))"
		for srv in "${active[@]}"; do
			row="| $(server_title "$srv") |"
			for spec in "msgs_per_sec %.0f" "p50_us %.1f" "p99_us %.1f" "cpu_us_per_msg %.2f" "load_cpu_pct %.0f" "server_peak_rss_mb %.1f"; do
				read -r m f <<<"$spec"
				for gen in "${GENS[@]}"; do row+=" $(fmt "$f" "${med[$srv.$gen.$m]}") |"; done
			done
			for m in msgs_per_sec cpu_us_per_msg; do
				for gen in "${GENS[@]}"; do
					row+=" $(ratio "${med[$srv.$gen.$m]}" "${med[cport-uring.$gen.$m]:-}") |"
				done
			done
			emit "$row"
		done
	fi
	unset med
done
emit ""
log "logs: $LOGDIR"
