#!/usr/bin/env bash
# Runs cport's Windows tests under Wine: installs Wine and MinGW if they are
# missing (Debian, as root), prepares a Wine prefix with the
# bcryptprimitives.dll stand-in that Go needs on Wine 8, cross-compiles each
# package's test binary and runs it. Exits non-zero if any test fails.
#
#	bash tools/wine/run-tests.sh [package ...]
#
# Without arguments it runs every package that has a *_windows_test.go file.
# Environment: WINEPREFIX (default $HOME/.cport-wine), CPORT_WINE_TIMEOUT
# (seconds per test binary, default 600), CPORT_WINE_VERBOSE=1 prints the
# full -test.v output instead of the summary.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
here=tools/wine
start=$(date +%s)

# Wine must not look for a display, and its debug chatter would bury the
# test output. Mono and Gecko are not needed and would be offered at init.
export DISPLAY= WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export WINEPREFIX="${WINEPREFIX:-$HOME/.cport-wine}"
timeout_s="${CPORT_WINE_TIMEOUT:-600}"

step() { echo "== wine: $*"; }

find_wine() {
	command -v wine64 2>/dev/null || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; } || command -v wine 2>/dev/null || true
}

# 1. Packages: Debian 12's wine64 is Wine 8; the MinGW compiler builds the DLL.
if [ -z "$(find_wine)" ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "wine64 and gcc-mingw-w64-x86-64-win32 are missing; install them or run as root" >&2
		exit 1
	fi
	step "installing wine64 and gcc-mingw-w64-x86-64-win32"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends wine64 gcc-mingw-w64-x86-64-win32 >/dev/null
fi
wine=$(find_wine)
wineserver=$(command -v wineserver 2>/dev/null || echo /usr/lib/wine/wineserver64)
step "$("$wine" --version 2>/dev/null || echo wine), prefix $WINEPREFIX"

# 2. The prefix, created once and reused.
if [ ! -f "$WINEPREFIX/system.reg" ]; then
	step "initialising the prefix"
	mkdir -p "$WINEPREFIX"
	wineboot_bin=$(command -v wineboot 2>/dev/null || true)
	if [ -n "$wineboot_bin" ]; then "$wineboot_bin" -i >/dev/null 2>&1; else "$wine" wineboot -i >/dev/null 2>&1; fi
	"$wineserver" -w
fi
# Leave no wineserver behind when we are done (it lingers a few seconds).
trap '"$wineserver" -k >/dev/null 2>&1 || true' EXIT

# 3. ProcessPrng for Go ≥ 1.22 (see bcryptprimitives.c).
build=$(mktemp -d)
trap '"$wineserver" -k >/dev/null 2>&1 || true; rm -rf "$build"' EXIT
x86_64-w64-mingw32-gcc -O2 -shared -o "$build/bcryptprimitives.dll" \
	"$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
cp "$build/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"

# 4. Cross-compile and run.
if [ $# -gt 0 ]; then
	pkgs=("$@")
else
	mapfile -t pkgs < <(GOOS=windows go list -f '{{.ImportPath}} {{.TestGoFiles}} {{.XTestGoFiles}}' ./... |
		awk '/_windows_test\.go/ {print $1}')
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
		# print each failed test from its === RUN on, and any panic.
		[ "${CPORT_WINE_VERBOSE:-}" = 1 ] || awk '
			/^=== (RUN|CONT|NAME)/ { buf = "" }
			{ buf = buf $0 "\n" }
			/^ *--- FAIL/ { printf "%s", buf; buf = ""; shown = 1 }
			/^(panic:|fatal error:)/ { tail = 1 }
			tail { print; shown = 1 }
			END { if (!shown) printf "%s", buf }' "$log"
		if [ $rc = 124 ]; then echo "timed out after ${timeout_s}s"; fi
		echo "FAIL	$pkg	${secs}s	($passed passed, exit $rc, under wine)"
		failed+=("$pkg")
	fi
done
step "done in $(( $(date +%s) - start ))s"
if [ ${#failed[@]} -gt 0 ]; then
	echo "FAIL under wine: ${failed[*]}" >&2
	exit 1
fi
