//go:build !windows

package transport

// keepAddressesFromStart: elsewhere a connection asks its addresses when
// first wanted, and at the latest before its socket closes, so an idle
// connection no one asks holds none (on Linux a reset socket still names
// its peer: internal/sock reads it with SO_PEERNAME).
const keepAddressesFromStart = false
