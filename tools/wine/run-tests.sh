#!/usr/bin/env bash
# Runs cport's Windows tests under Wine: prepares the Wine prefix
# (prefix.sh: Wine, MinGW and the bcryptprimitives.dll stand-in that Go
# needs on Wine 8), cross-compiles each package's test binary and runs it.
# Exits non-zero if any test fails.
#
#	bash tools/wine/run-tests.sh [package ...]
#
# Without arguments it runs the tests of port, loop, transport, flow and
# cmd/cport, and of every package with a *_windows_test.go file; then the
# Linux-driven tests of the Windows cport under Wine (cmd/cport's
# TestWineEcho: echo with 100 Linux clients; TestWineSeedAccept).
# Environment: WINEPREFIX (default $HOME/.cport-wine), CPORT_WINE_TIMEOUT
# (seconds per test binary, default 600), CPORT_WINE_VERBOSE=1 prints the
# full -test.v output instead of the summary.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
here=tools/wine
start=$(date +%s)

# Wine, the prefix and the bcryptprimitives.dll stand-in (prefix.sh).
# shellcheck source=prefix.sh
source "$here/prefix.sh" 2>&1
timeout_s="${CPORT_WINE_TIMEOUT:-600}"
# Wine hands the environment to Windows programs, and on Windows the only
# backend is iocp: a CPORT_BACKEND=uring|epoll left from a Linux run would
# make every port.Open fail.
unset CPORT_BACKEND

step() { echo "== wine: $*"; }

# Leave no wineserver behind when we are done (it lingers a few seconds).
build=$(mktemp -d)
trap '"$wineserver" -k >/dev/null 2>&1 || true; rm -rf "$build"' EXIT

# Cross-compile and run. Without arguments: the packages whose tests make
# sense on Windows (their Linux-only tests live in _linux_test.go files or
# skip themselves, saying why), and any other package with a
# *_windows_test.go file.
windows_pkgs=(./port ./loop ./transport ./flow ./cmd/cport)
if [ $# -gt 0 ]; then
	pkgs=("$@")
else
	mapfile -t pkgs < <({
		GOOS=windows go list "${windows_pkgs[@]}"
		GOOS=windows go list -f '{{.ImportPath}} {{.TestGoFiles}} {{.XTestGoFiles}}' ./... |
			awk '/_windows_test\.go/ {print $1}'
	} | awk '!seen[$0]++')
fi
failed=()
for pkg in "${pkgs[@]}"; do
	name=$(basename "$pkg")
	exe="$build/$name.test.exe"
	log="$build/$name.log"
	GOOS=windows GOARCH=amd64 go test -c -o "$exe" "$pkg"
	if [ ! -f "$exe" ]; then
		echo "?   	$pkg	[no test files]"
		continue
	fi
	t0=$(date +%s%N)
	set +e
	timeout "$timeout_s" "$wine" "$exe" -test.v -test.count=1 -test.timeout="$((timeout_s - 10))s" >"$log" 2>&1
	rc=$?
	set -e
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	secs=$(printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10)))
	if [ "${CPORT_WINE_VERBOSE:-}" = 1 ]; then
		cat "$log"
	fi
	passed=$(grep -c '^--- PASS' "$log" || true)
	skipped=$(grep -c '^--- SKIP' "$log" || true)
	if [ $rc = 0 ]; then
		echo "ok  	$pkg	${secs}s	($passed passed, $skipped skipped, under wine)"
	else
		# -test.v streams a test's log lines before its --- FAIL line:
		# print each failed test from its === RUN on, and a crash's
		# message with the first 60 lines of its traceback (the rest,
		# every goroutine's stack, would bury the message in CI's log).
		[ "${CPORT_WINE_VERBOSE:-}" = 1 ] || awk '
			/^(panic:|fatal error:|runtime: |Exception )/ && !crash { crash = 1; printf "%s", buf; buf = "" }
			crash { if (crash++ <= 60) print; shown = 1; next }
			/^=== (RUN|CONT|NAME)/ { buf = "" }
			{ buf = buf $0 "\n" }
			/^ *--- FAIL/ { printf "%s", buf; buf = ""; shown = 1 }
			END {
				if (crash > 61) printf "… %d more lines of traceback\n", crash - 61
				if (!shown) printf "%s", buf
			}' "$log"
		if [ $rc = 124 ]; then echo "timed out after ${timeout_s}s"; fi
		echo "FAIL	$pkg	${secs}s	($passed passed, exit $rc, under wine)"
		failed+=("$pkg")
	fi
done
# The Windows cport under Wine, driven by Linux clients: only in a full
# run, since these are Linux tests of the Windows build.
if [ $# = 0 ]; then
	t0=$(date +%s)
	if CPORT_WINE_ECHO=1 go test -count=1 -run '^TestWine(Echo|SeedAccept)$' -v ./cmd/cport >"$build/wine-echo.log" 2>&1; then
		grep -E 'echoed byte for byte|connected from' "$build/wine-echo.log" | sed 's/^ */	/' || true
		echo "ok  	cport echo, seed-accept under wine, driven from linux	$(( $(date +%s) - t0 ))s"
	else
		cat "$build/wine-echo.log"
		echo "FAIL	cport echo, seed-accept under wine, driven from linux	$(( $(date +%s) - t0 ))s"
		failed+=("cmd/cport TestWineEcho, TestWineSeedAccept")
	fi
fi
step "done in $(( $(date +%s) - start ))s"
if [ ${#failed[@]} -gt 0 ]; then
	echo "FAIL under wine: ${failed[*]}" >&2
	exit 1
fi
