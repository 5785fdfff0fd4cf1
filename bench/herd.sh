#!/usr/bin/env bash
# Cluster runner benchmark: herd against parallel-ssh (Debian pssh) and
# clush (Debian clustershell), each running `true` on many hosts of the
# OpenSSH lab (tools/sshlab: every 127.x address is a host of one sshd),
# and herd over its mTLS agents (herd-agent) on as many hosts of the agent
# lab (tools/agentlab: every address a host of a few herd agent processes),
# on the same machine with the same pinning.
#
# Every scenario (HOSTSxFANOUT) runs the tools in interleaved rounds
# (A B C, A B C, ...) and reports per tool the median of: wall time, the
# controller's CPU time (user+sys of its whole process tree: pssh's and
# clush's ssh children count), the controller's own peak RSS, the summed
# RSS of its children (the ssh clients), and sshd's CPU time (the lab
# server's, children included) over the same run, as Markdown on stdout.
# For herd-agent the server is the agent processes, their commands included.
#
# The servers (sshd, the agents) run pinned to core SSHD_CPU (default 0)
# and the controller with everything it starts to core CTL_CPU (default 1):
# each tool gets one core, and the server one. PIN=0 leaves both unpinned.
#
# All tools use the same key, known_hosts (strict checking), user and
# port, no ssh config file (-F none), no agent, BatchMode, and no
# connection retries (herd --retries 0). herd runs with its defaults
# otherwise (its kill through a second session, which adds no process on
# the host); herd-guard with its sh watchdog on; herd-raw with the command
# sent as is.
#
# Environment:
#   ROUNDS      interleaved rounds per scenario (default 3)
#   SCENARIOS   HOSTSxFANOUT list (default "100x64 400x64 400x400"; "" for none); hosts
#               are 127.0.0.2-201, then 127.0.1.2-201 (at most 400)
#   TOOLS       default "herd herd-guard herd-agent pssh clush"
#               (herd-guard: herd --guard, whose sessions run the command
#               under herd's sh watchdog, two processes more per host;
#               herd-raw: herd --raw, whose sessions run the command bare
#               as the others do, without the login shell's "echo $$";
#               herd-agent: herd run --agent on the agent lab)
#   AGENT_SCENARIOS  HOSTSxFANOUT list run by herd-agent alone, beyond the
#               sshlab's 400 hosts (default "10000x10000"; "" for none)
#   AGENTLAB    a running agent lab's directory (default: start one with
#               as many hosts as the scenarios need, stop it after)
#   HELD_SCENARIOS  HOSTSxHOSTS list for herd's memory per SSH host in
#               flight (default "200x200 400x400"; "" for none): herd runs
#               `sleep HOLD_S` on every host at once, in interleaved rounds
#               after the other scenarios, and the slope of its peak RSS
#               between the scenarios is reported. HOLD_S (default 50)
#               must outlast the handshakes of all the hosts (about 20 s
#               for 400 on this lab's one core), or the first hosts end
#               before the last start.
#   HERD_ARGS   extra options for herd run
#   HERD_BIN    herd binary (default: built from ./cmd/herd)
#   SSHD_CPU, CTL_CPU, PIN   see above
#   LAB         a running lab's directory (default: start one, stop it after)
#   SSHD_REEXEC the lab's sshd re-executes itself per connection (yes) or
#               serves each from a fork of the listener (no, the default:
#               sshd -r). The lab stands for many machines on one core;
#               re-exec's dynamic linking and page faults are most of a
#               connection's cost there and say nothing of the controllers.
#   WAIT_IDLE   seconds to wait, checking every 30 s, for other benchmarks
#               (bench/run.sh, loadgen) to end before each run (default 1800;
#               -1: do not wait, for a smoke run)
#   MEMPROFILE=1  after the rounds, one more herd run of the largest
#               scenario with --memprofile (its heap profile's top lines are
#               printed; that run is not timed): herd over SSH, or herd
#               --agent when TOOLS has herd-agent and not herd
#   LOGDIR      where each run's output goes (default: a new directory
#               under /tmp, printed at the end; kept)
#   OUT         also write the tables to this file
#   REPORT      a results.tsv of an earlier run: print its tables, run nothing
#
# Needs root for apt-get when parallel-ssh or clush is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

ROUNDS=${ROUNDS:-3}
SCENARIOS=${SCENARIOS-"100x64 400x64 400x400"}
TOOLS=${TOOLS:-"herd herd-guard herd-agent pssh clush"}
AGENT_SCENARIOS=${AGENT_SCENARIOS-"10000x10000"}
HERD_ARGS=${HERD_ARGS:-}
SSHD_CPU=${SSHD_CPU:-0}
CTL_CPU=${CTL_CPU:-1}
PIN=${PIN:-1}
SSHD_REEXEC=${SSHD_REEXEC:-no}
HELD_SCENARIOS=${HELD_SCENARIOS-"200x200 400x400"}
HOLD_S=${HOLD_S:-50}
WAIT_IDLE=${WAIT_IDLE:-1800}
LOGDIR=${LOGDIR:-$(mktemp -d /tmp/herdbench.XXXXXX)}
# The lab's sshd reads its authorized keys as the lab user, through this
# directory, which mktemp made private to root.
mkdir -p "$LOGDIR"
chmod 755 "$LOGDIR"

log() { printf '%s\n' "$*" >&2; }
die() {
	log "herd.sh: $*"
	exit 1
}

# report: Markdown tables of $RESULTS on stdout, medians over the rounds.
report() {
	python3 - "$RESULTS" "$TOOLS" "$HOLD_S" <<'EOF'
import csv, statistics, sys
allrows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
rows = [r for r in allrows if r["tool"] != "herd-held"]
held = [r for r in allrows if r["tool"] == "herd-held"]
tools = sys.argv[2].split()
med = lambda xs: statistics.median(xs) if xs else float("nan")
names = {"herd": "herd", "herd-guard": "herd --guard", "herd-raw": "herd --raw", "herd-agent": "herd --agent", "pssh": "parallel-ssh", "clush": "clush"}
for sc in dict.fromkeys(r["scenario"] for r in rows):
    n, f = sc.split("x")
    print(f"\n### {n} hosts, fan-out {f}\n")
    print("| tool | wall s | ÷ best peer | controller CPU s | controller CPU ÷ wall | server CPU s | server CPU ÷ wall | bound by | controller peak RSS MiB | ssh children's RSS MiB: sum (private) | ok hosts (worst round) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    here = [t for t in tools if any(r["scenario"] == sc and r["tool"] == t for r in rows)]
    by = {t: [r for r in rows if r["scenario"] == sc and r["tool"] == t] for t in here}
    wall = {t: med([float(r["wall_s"]) for r in by[t]]) for t in here}
    peers = [wall[t] for t in here if not t.startswith("herd")]
    best = min(peers) if peers else float("nan")
    for t in here:
        rs = by[t]
        m = lambda k: med([float(r[k]) for r in rs])
        ctl = med([float(r["cpu_s"]) / float(r["wall_s"]) for r in rs])
        srv = med([float(r["sshd_cpu_s"]) / float(r["wall_s"]) for r in rs])
        bound = ("agents" if t == "herd-agent" else "sshd") if srv >= 0.85 else "controller" if ctl >= 0.85 else "neither"
        kids = "—" if m("kids") == 0 else f"{m('kids_rss_kib')/1024:.0f} ({m('kids_anon_kib')/1024:.0f})"
        ratio = f"{wall[t]/best:.2f}" if peers else "—"
        print(f"| {names[t]} | {wall[t]:.1f} | {ratio} | {m('cpu_s'):.1f} | {ctl:.0%} | {m('sshd_cpu_s'):.1f} | {srv:.0%} | {bound} | "
              f"{m('ctl_rss_kib')/1024:.1f} | {kids} | {min(int(r['ok']) for r in rs)}/{n} |")
    for t in ("herd", "herd-agent"):
        base = [r for r in rows if r["scenario"] == sc and r["tool"] == t + "-base"]
        if by.get(t) and base:
            b = med([float(r["ctl_rss_kib"]) for r in base])
            peak = med([float(r["ctl_rss_kib"]) for r in by[t]])
            inflight = min(int(n), int(f))
            print(f"\n{names[t]} RSS per host: ({peak/1024:.1f} MiB peak − {b/1024:.1f} MiB on one host) ÷ {inflight} (hosts or fan-out, the fewer) = {(peak-b)/inflight:.1f} KiB")
# The figure above charges to the hosts in flight what any run of many
# hosts costs, at any fan-out: the garbage collector's heap at its goal
# (4 MiB at least) and the handshakes' garbage. For herd --agent, the
# slope between two fan-outs over the same hosts leaves those out: what
# one more host in flight holds. Over SSH a run of `true` is bound by the
# lab's sshd and never has its whole fan-out in flight at once: the held
# scenarios below measure that instead.
for t in ("herd-agent",):
    scs = {}
    for sc in dict.fromkeys(r["scenario"] for r in rows):
        rs = [r for r in rows if r["scenario"] == sc and r["tool"] == t]
        if rs:
            n, f = map(int, sc.split("x"))
            scs.setdefault(n, []).append((min(n, f), med([float(r["ctl_rss_kib"]) for r in rs]), sc))
    for n, pts in scs.items():
        pts.sort()
        for (f0, r0, s0), (f1, r1, s1) in zip(pts, pts[1:]):
            if f1 > f0:
                print(f"\n{names[t]} RSS per host in flight, {s0} to {s1}: ({r1/1024:.1f} − {r0/1024:.1f} MiB) ÷ {f1 - f0} more in flight = {(r1-r0)/(f1-f0):.1f} KiB")
# Every host in flight at once (a command that sleeps), at two host
# counts: the slope of the peak RSS is what one more host in flight holds,
# the runtime's and the run's fixed costs left out.
if held:
    hold = sys.argv[3]
    hosts_of = lambda r: int(r["scenario"].split("x")[0])
    counts = sorted({hosts_of(r) for r in held})
    rounds = sorted({r["round"] for r in held}, key=int)
    rss = {(hosts_of(r), r["round"]): float(r["ctl_rss_kib"]) for r in held}
    print(f"\n### herd's RSS per SSH host in flight (`sleep {hold}` on every host at once)\n")
    print("| hosts in flight | " + " | ".join(f"round {k} peak RSS MiB" for k in rounds) + " | median | ok hosts (worst round) |")
    print("|---|" + "---|" * (len(rounds) + 2))
    for c in counts:
        rs = [r for r in held if hosts_of(r) == c]
        print(f"| {c} | " + " | ".join(f"{rss[c, k]/1024:.1f}" if (c, k) in rss else "—" for k in rounds) +
              f" | {med([float(r['ctl_rss_kib']) for r in rs])/1024:.1f} | {min(int(r['ok']) for r in rs)}/{c} |")
    for c0, c1 in zip(counts, counts[1:]):
        per = [(rss[c1, k] - rss[c0, k]) / (c1 - c0) for k in rounds if (c0, k) in rss and (c1, k) in rss]
        print(f"\nherd RSS per SSH host in flight, {c0} to {c1} hosts: " + ", ".join(f"{x:.1f}" for x in per) +
              f" KiB in the rounds, median **{med(per):.1f} KiB**")
loads = [float(r["load1"]) for r in allrows]
print(f"\nLoad average (1 min) before each run: {min(loads):.2f} to {max(loads):.2f}, median {med(loads):.2f}.")
EOF
}

# REPORT=results.tsv prints the tables of an earlier run and exits.
if [ -n "${REPORT:-}" ]; then
	RESULTS=$REPORT TOOLS=$(cut -f2 "$REPORT" | tail -n +2 | grep -v -- -base | awk '!seen[$0]++' | tr '\n' ' ')
	report
	exit 0
fi

# --- peers -----------------------------------------------------------------
need=()
command -v parallel-ssh >/dev/null 2>&1 || command -v pssh >/dev/null 2>&1 || need+=(pssh)
command -v clush >/dev/null 2>&1 || need+=(clustershell)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing ${need[*]} (Debian: apt-get install ${need[*]})"
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
fi
PSSH=$(command -v parallel-ssh || command -v pssh)
CLUSH=$(command -v clush)
command -v taskset >/dev/null || die "no taskset (util-linux)"
command -v python3 >/dev/null || die "no python3"

# --- a quiet machine -----------------------------------------------------------
# Other benchmarks (bench/run.sh, its loadgen) would share the cores: each
# run waits until none runs, checking every 30 s, WAIT_IDLE seconds in all.
waited=0
wait_quiet() {
	[ "$WAIT_IDLE" -lt 0 ] && return 0
	while pgrep -f 'bench/run.sh|loadgen' >/dev/null; do
		[ "$waited" -ge "$WAIT_IDLE" ] && die "other benchmarks still run after ${WAIT_IDLE}s: $(pgrep -af 'bench/run.sh|loadgen' | head -3)"
		log "another benchmark runs; waiting ($waited s so far)"
		sleep 30
		waited=$((waited + 30))
	done
}

# --- build -------------------------------------------------------------------
work=$LOGDIR/bin
mkdir -p "$work"
if [ -z "${HERD_BIN:-}" ]; then
	(cd "$root" && go build -o "$work/herd" ./cmd/herd)
	HERD_BIN=$work/herd
fi
(cd "$here" && go build -o "$work/treestat" ./treestat)
TREESTAT=$work/treestat
ulimit -n "$(ulimit -Hn)"

# --- the labs ----------------------------------------------------------------
cleanups=()
cleanup() {
	local c
	for c in "${cleanups[@]}"; do eval "$c" || true; done
}
trap cleanup EXIT
if [ -z "${LAB:-}" ]; then
	LAB=$LOGDIR/lab
	HERD_LAB_REEXEC=$SSHD_REEXEC bash "$root/tools/sshlab/start.sh" "$LAB" >/dev/null
	cleanups+=('bash "$root/tools/sshlab/stop.sh" "$LAB" >/dev/null 2>&1')
fi
# shellcheck disable=SC1091
. "$LAB/env"
sshd_pid=$HERD_LAB_SSHD_PID
kill -0 "$sshd_pid" 2>/dev/null || die "no sshd $sshd_pid in $LAB"
unset SSH_AUTH_SOCK

pin_sshd=() pin_ctl=()
if [ "$PIN" = 1 ]; then
	# Connections' processes inherit the listener's affinity.
	taskset -a -c -p "$SSHD_CPU" "$sshd_pid" >/dev/null
	pin_ctl=(taskset -c "$CTL_CPU")
fi

# The agent lab, for herd-agent: as many hosts as its scenarios need.
with_agents=0
case " $TOOLS " in *" herd-agent "*) with_agents=1 ;; esac
[ -n "$AGENT_SCENARIOS" ] && with_agents=1
agent_pids=""
if [ "$with_agents" = 1 ]; then
	agent_n=1
	for sc in $SCENARIOS $AGENT_SCENARIOS; do
		if [ "${sc%x*}" -gt "$agent_n" ]; then agent_n=${sc%x*}; fi
	done
	if [ -z "${AGENTLAB:-}" ]; then
		AGENTLAB=$LOGDIR/agentlab
		HERD=$HERD_BIN bash "$root/tools/agentlab/start.sh" "$agent_n" "$AGENTLAB"
		cleanups+=('bash "$root/tools/agentlab/stop.sh" "$AGENTLAB" >/dev/null 2>&1')
	fi
	HERD_AGENT_ARGS=$(. "$AGENTLAB/env" && echo "$HERD_AGENT_ARGS")
	agent_pids=$(cat "$AGENTLAB"/agent*.pid | tr '\n' ' ')
	for p in $agent_pids; do
		kill -0 "$p" 2>/dev/null || die "no agent $p in $AGENTLAB"
		if [ "$PIN" = 1 ]; then taskset -a -c -p "$SSHD_CPU" "$p" >/dev/null; fi
	done
fi

hz=$(getconf CLK_TCK)
# sshd's CPU time: perf's task-clock over the listener and every process it
# starts, when perf is here. The tick-sampled times in /proc (cutime, kept
# as sshd_tick_s) charged this machine's short-lived sshd processes up to a
# third more or less than task-clock, depending on the client.
have_perf=0
if command -v perf >/dev/null 2>&1 && perf stat -e task-clock -p "$sshd_pid" -o /dev/null -- sleep 0.1 >/dev/null 2>&1; then
	have_perf=1
fi
user=$HERD_LAB_USER port=$HERD_LAB_PORT key=$HERD_LAB_KEY known=$HERD_LAB_KNOWN_HOSTS
ssh_opts=(-F none -oPort="$port" -oIdentityFile="$key" -oIdentitiesOnly=yes -oUserKnownHostsFile="$known"
	-oGlobalKnownHostsFile=/dev/null -oStrictHostKeyChecking=yes -oBatchMode=yes)

# agent_hosts N: the node set of the agent lab's first N hosts, 250 to a
# row from 127.0.1.1 (as tools/agentlab/start.sh numbers them).
agent_hosts() {
	local n=$1 expr="" row=1
	while [ "$n" -gt 0 ]; do
		local k=$((n < 250 ? n : 250))
		expr="${expr:+$expr,}127.0.$row.[1-$k]"
		n=$((n - k)) row=$((row + 1))
	done
	echo "$expr"
}

# hosts N: the node set of the first N lab hosts; hostlist N: one a line.
hosts() {
	local n=$1
	[ "$n" -le 400 ] || die "at most 400 hosts"
	if [ "$n" -le 200 ]; then
		echo "127.0.0.[2-$((n + 1))]"
	else
		echo "127.0.0.[2-201],127.0.1.[2-$((n - 200 + 1))]"
	fi
}
hostlist() {
	local n=$1 i
	for ((i = 0; i < n; i++)); do
		echo "127.0.$((i / 200)).$((i % 200 + 2))"
	done
}

# tool_cmd TOOL N FANOUT: the command line, into the array cmd.
tool_cmd() {
	local tool=$1 n=$2 f=$3
	case $tool in
	herd-agent | herd-agent-base)
		# The baseline's one host runs sleep 0.5, not true: a run on one
		# agent ends before treestat's first sample of its peak RSS.
		local job=true
		[ "$tool" = herd-agent-base ] && job="sleep 0.5"
		# shellcheck disable=SC2206
		cmd=("$HERD_BIN" run $HERD_AGENT_ARGS --retries 0 -f "$f" $HERD_ARGS "$(agent_hosts "$n")" -- $job)
		;;
	herd | herd-base | herd-guard | herd-raw | herd-held)
		local extra=() job=true
		[ "$tool" = herd-guard ] && extra=(--guard)
		[ "$tool" = herd-raw ] && extra=(--raw)
		[ "$tool" = herd-held ] && job="sleep $HOLD_S"
		# shellcheck disable=SC2206
		cmd=("$HERD_BIN" run -F none -l "$user" -p "$port" -i "$key" --known-hosts "$known"
			--connect-timeout 5m --retries 0 -f "$f" ${extra[@]+"${extra[@]}"} $HERD_ARGS "$(hosts "$n")" -- $job)
		;;
	pssh)
		hostlist "$n" >"$LOGDIR/hosts.$n"
		cmd=("$PSSH" -h "$LOGDIR/hosts.$n" -l "$user" -p "$f" -t 0 -x "${ssh_opts[*]}" true)
		;;
	clush)
		cmd=("$CLUSH" -w "$(hosts "$n")" -l "$user" -f "$f" -t 300 -o "${ssh_opts[*]}" true)
		;;
	*) die "unknown tool $tool" ;;
	esac
}

# ok_hosts TOOL N OUT ERR: how many hosts succeeded, from the tool's output.
ok_hosts() {
	local tool=$1 n=$2 out=$3 err=$4
	case $tool in
	herd*) awk '$1 == "ok" { print $2; found = 1 } END { if (!found) print 0 }' "$err" ;;
	pssh) grep -c '\[SUCCESS\]' "$out" || true ;;
	clush) echo $((n - $(grep -c 'exited with exit code' "$err" || true))) ;;
	esac
}

# server_pids TOOL: the server processes TOOL talks to: sshd, or the agents.
server_pids() {
	case $1 in
	herd-agent*) echo "$agent_pids" ;;
	*) echo "$sshd_pid" ;;
	esac
}

# server_ticks PID...: CPU clock ticks of the processes and their reaped
# children.
server_ticks() {
	local p t=0
	for p in "$@"; do
		t=$((t + $(awk '{ i = index($0, ") "); split(substr($0, i + 2), f, " "); print f[12] + f[13] + f[14] + f[15] }' "/proc/$p/stat")))
	done
	echo "$t"
}

# cpu_busy: "busy total" jiffies of one core, from /proc/stat.
cpu_busy() {
	awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# settle PID...: wait (at most 30 s) until the servers' last connection's
# processes ended and were reaped, so their CPU time is in the servers'
# count.
settle() {
	local p
	for _ in $(seq 1 300); do
		for p in "$@"; do
			pgrep -P "$p" >/dev/null && continue 2
		done
		return 0
	done
	log "herd.sh: the servers ($*) still have children after 30 s"
}

RESULTS=$LOGDIR/results.tsv
printf 'scenario\ttool\tround\twall_s\tcpu_s\tctl_rss_kib\tkids_rss_kib\tkids_anon_kib\tkids\tsshd_cpu_s\tsshd_core_busy\tctl_core_busy\tok\thosts\texit\tload1\tsshd_tick_s\n' >"$RESULTS"

# run_one SCENARIO TOOL ROUND N FANOUT
run_one() {
	local sc=$1 tool=$2 round=$3 n=$4 f=$5
	local base=$LOGDIR/$sc.$tool.$round
	tool_cmd "$tool" "$n" "$f"
	printf '%q ' "${cmd[@]}" >"$base.cmd"
	local servers
	read -r -a servers <<<"$(server_pids "$tool")"
	settle "${servers[@]}"
	wait_quiet
	local load1 s0 s1 a0 a1 b0 b1
	load1=$(cut -d' ' -f1 /proc/loadavg)
	s0=$(server_ticks "${servers[@]}")
	read -r -a a0 <<<"$(cpu_busy "$SSHD_CPU")"
	read -r -a b0 <<<"$(cpu_busy "$CTL_CPU")"
	local perf_pid=""
	if [ "$have_perf" = 1 ]; then
		perf stat -e task-clock -x, -o "$base.sshd" -p "$(tr ' ' , <<<"${servers[*]}")" >/dev/null 2>&1 &
		perf_pid=$!
		sleep 0.3 # attached before the first connection
	fi
	# treestat samples the tree every 100 ms (reading /proc for each ssh
	# child) on the controller's core, where its cost is charged to no tool.
	"${pin_ctl[@]}" "$TREESTAT" -interval 100ms -o "$base.result" -- "${cmd[@]}" </dev/null >"$base.out" 2>"$base.err" || true
	read -r -a a1 <<<"$(cpu_busy "$SSHD_CPU")"
	read -r -a b1 <<<"$(cpu_busy "$CTL_CPU")"
	settle "${servers[@]}"
	s1=$(server_ticks "${servers[@]}")
	local sshd_ms=""
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
		sshd_ms=$(awk -F, '$3 == "task-clock" { print $1 }' "$base.sshd")
	fi
	[ -s "$base.result" ] || die "$tool: no result; see $base.err"
	local ok
	ok=$(ok_hosts "$tool" "$n" "$base.out" "$base.err")
	python3 - "$base.result" "$sc" "$tool" "$round" "$(((s1 - s0)))" "$hz" \
		"$((a1[0] - a0[0]))" "$((a1[1] - a0[1]))" "$((b1[0] - b0[0]))" "$((b1[1] - b0[1]))" \
		"$ok" "$n" "$load1" "$sshd_ms" >>"$RESULTS" <<'EOF'
import sys
res, sc, tool, rnd, sshd, hz, ab, at, bb, bt, ok, n, load1, sshd_ms = sys.argv[1:]
kv = dict(f.split("=", 1) for f in open(res).read().split()[1:])
hz = int(hz)
ticks = int(sshd) / hz
row = [sc, tool, rnd, kv["wall_s"], kv["cpu_s"], kv["ctl_rss_kib"], kv["kids_rss_kib"], kv["kids_anon_kib"], kv["kids"],
       "%.3f" % (float(sshd_ms) / 1000 if sshd_ms else ticks), "%.2f" % (int(ab) / max(int(at), 1)), "%.2f" % (int(bb) / max(int(bt), 1)), ok, n, kv["exit"], load1, "%.3f" % ticks]
print("\t".join(row))
EOF
	log "$(tail -1 "$RESULTS" | tr '\t' ' ')"
}

log "lab $LAB (sshd $sshd_pid, port $port); logs in $LOGDIR; load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "$("$PSSH" --version 2>&1 | head -1 | sed 's/^/parallel-ssh /'); $("$CLUSH" --version 2>&1); $(/usr/sbin/sshd -V 2>&1 | head -1); $(ssh -V 2>&1)"

# A check that every tool reaches the lab, and a warm-up.
for tool in $TOOLS; do
	tool_cmd "$tool" 3 3
	if ! "${cmd[@]}" </dev/null >"$LOGDIR/check.$tool.out" 2>&1; then
		die "$tool cannot run on the lab: $(tail -5 "$LOGDIR/check.$tool.out")"
	fi
done

for sc in $SCENARIOS; do
	n=${sc%x*} f=${sc#*x}
	for round in $(seq 1 "$ROUNDS"); do
		for tool in $TOOLS; do
			run_one "$sc" "$tool" "$round" "$n" "$f"
		done
		# herd's baseline: one host, for its memory per host in flight.
		case " $TOOLS " in *" herd "*) run_one "${sc}" herd-base "$round" 1 1 ;; esac
		case " $TOOLS " in *" herd-agent "*) run_one "${sc}" herd-agent-base "$round" 1 1 ;; esac
	done
done

# herd's memory per host in flight: every host holds its command at once.
for round in $(seq 1 "$ROUNDS"); do
	for sc in $HELD_SCENARIOS; do
		run_one "$sc" herd-held "$round" "${sc%x*}" "${sc#*x}"
	done
done

# Beyond the sshlab: herd --agent alone.
for sc in $AGENT_SCENARIOS; do
	n=${sc%x*} f=${sc#*x}
	for round in $(seq 1 "$ROUNDS"); do
		run_one "$sc" herd-agent "$round" "$n" "$f"
		run_one "$sc" herd-agent-base "$round" 1 1
	done
done

memprofile_top=""
if [ "${MEMPROFILE:-0}" = 1 ]; then
	last=${SCENARIOS##* }
	n=${last%x*} f=${last#*x}
	# herd's own profile when it ran, herd --agent's otherwise.
	profiled=herd
	case " $TOOLS " in *" herd "*) ;; *" herd-agent "*) profiled=herd-agent ;; esac
	tool_cmd "$profiled" "$n" "$f"
	"${pin_ctl[@]}" "${cmd[0]}" "${cmd[1]}" --memprofile "$LOGDIR/herd.mem.pprof" "${cmd[@]:2}" </dev/null >/dev/null 2>"$LOGDIR/memprofile.err" || true
	memprofile_top=$(grep memprofile "$LOGDIR/memprofile.err"; go tool pprof -sample_index=inuse_space -top "$HERD_BIN" "$LOGDIR/herd.mem.pprof" 2>/dev/null | sed -n '4,30p')
fi


{
	echo "## herd vs parallel-ssh vs clush: \`true\` on the sshlab, and herd --agent on the agent lab ($ROUNDS rounds, medians)"
	echo
	echo "sshd and the agents pinned to core $SSHD_CPU, each controller (and its children) to core $CTL_CPU (PIN=$PIN); $(nproc) cores; $(uname -r). Server CPU: sshd's, or the agents' (herd --agent). The lab's sshd re-executes itself per connection: ${HERD_LAB_REEXEC:-yes} (SSHD_REEXEC)."
	report
	if [ -n "$memprofile_top" ]; then
		printf '\n### %s heap at its peak (--memprofile, largest scenario)\n\n```\n%s\n```\n' "$profiled" "$memprofile_top"
	fi
} | tee ${OUT:+"$OUT"}
log "raw results: $RESULTS; logs: $LOGDIR"
