package main

import (
	"net"

	"golang.org/x/sys/unix"
)

// unsentBytes is how much of what was written on c the kernel still holds
// unsent, or not yet acknowledged (SIOCOUTQ): a peer whose server stopped
// reading keeps its requests there.
func unsentBytes(c net.Conn) (n int, known bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var qerr error
	if err := rc.Control(func(fd uintptr) { n, qerr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil || qerr != nil {
		return 0, false
	}
	return n, true
}
