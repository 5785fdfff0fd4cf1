#!/usr/bin/env bash
# Prepares the Wine prefix that cport's Windows binaries run in: installs
# Wine and MinGW if they are missing (Debian, as root), creates the prefix
# once, and builds the bcryptprimitives.dll stand-in that Go needs on
# Wine 8 into its system32 (see bcryptprimitives.c).
#
#	source tools/wine/prefix.sh    # run-tests.sh: sets wine, wineserver
#	                               # and exports DISPLAY, WINE*
#	bash tools/wine/prefix.sh      # prints NAME=VALUE lines (wine,
#	                               # wineserver, WINEPREFIX, WINEDEBUG,
#	                               # WINEDLLOVERRIDES) for programs, such as
#	                               # cmd/cport's Linux-driven echo test
#
# Progress goes to stderr, so stdout carries only the NAME=VALUE lines.
# Environment: WINEPREFIX (default $HOME/.cport-wine).
set -euo pipefail
_cport_wine_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Wine must not look for a display, and its debug chatter would bury the
# test output. Mono and Gecko are not needed and would be offered at init.
export DISPLAY= WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export WINEPREFIX="${WINEPREFIX:-$HOME/.cport-wine}"

_cport_wine_step() { echo "== wine: $*" >&2; }

_cport_find_wine() {
	command -v wine64 2>/dev/null || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; } || command -v wine 2>/dev/null || true
}

# 1. Packages: Debian 12's wine64 is Wine 8; the MinGW compiler builds the DLL.
if [ -z "$(_cport_find_wine)" ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "wine64 and gcc-mingw-w64-x86-64-win32 are missing; install them or run as root" >&2
		exit 1
	fi
	_cport_wine_step "installing wine64 and gcc-mingw-w64-x86-64-win32"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends wine64 gcc-mingw-w64-x86-64-win32 >/dev/null
fi
wine=$(_cport_find_wine)
wineserver=$(command -v wineserver 2>/dev/null || echo /usr/lib/wine/wineserver64)
_cport_wine_step "$("$wine" --version 2>/dev/null || echo wine), prefix $WINEPREFIX"

# 2. The prefix, created once and reused. system.reg is the last thing
# wineboot writes, so a prefix without it is incomplete: start it again.
if [ ! -f "$WINEPREFIX/system.reg" ]; then
	_cport_wine_step "initialising the prefix"
	mkdir -p "$WINEPREFIX"
	_cport_wineboot=$(command -v wineboot 2>/dev/null || true)
	if [ -n "$_cport_wineboot" ]; then "$_cport_wineboot" -i >/dev/null 2>&1; else "$wine" wineboot -i >/dev/null 2>&1; fi
	"$wineserver" -w
fi

# 3. ProcessPrng for Go ≥ 1.22. Built every time (under a second), so an
# edited source or a prefix someone reset always gets the current DLL;
# written under a temporary name and renamed, so a binary starting
# meanwhile never loads half a file.
_cport_dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
x86_64-w64-mingw32-gcc -O2 -shared -o "$_cport_dll.tmp$$" \
	"$_cport_wine_dir/bcryptprimitives.c" "$_cport_wine_dir/bcryptprimitives.def" -ladvapi32
mv -f "$_cport_dll.tmp$$" "$_cport_dll"

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	printf '%s=%s\n' wine "$wine" wineserver "$wineserver" WINEPREFIX "$WINEPREFIX" \
		WINEDEBUG "$WINEDEBUG" WINEDLLOVERRIDES "$WINEDLLOVERRIDES"
fi
