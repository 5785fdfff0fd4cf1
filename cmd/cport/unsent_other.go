//go:build !linux

package main

import "net"

// unsentBytes is unknown here: without Linux's SIOCOUTQ a pipelining peer
// the server has not closed counts as stalled.
func unsentBytes(net.Conn) (n int, known bool) { return 0, false }
