//go:build linux

package streamtest

import (
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// The raw helpers below drive blocking sockets by file descriptor, for
// tests that measure a server alone: a client made of bare descriptors
// keeps nothing on the Go heap and starts no goroutine.
//
// A blocking system call made outside the net package is interrupted by
// the Go runtime's own signals (SIGURG for asynchronous preemption, and
// SIGPROF when profiling): it returns EINTR, which the net package hides
// and these helpers must retry.

// RawDial connects a new blocking TCP socket to sa, an IPv4 or IPv6
// address. The caller closes the socket, also on an error when it is not
// -1.
func RawDial(sa unix.Sockaddr) (int, error) { return RawDialBuffers(sa, 0) }

// RawDialBuffers is RawDial with the socket's send and receive buffers
// fixed at size bytes (0: the kernel's, grown as it sees fit). Many peers
// that write and never read would otherwise grow their buffers to
// megabytes each, and hundreds of them push the whole machine's TCP
// memory past its limit (net.ipv4.tcp_mem), where the kernel resets
// other tests' connections closing with data still in flight.
func RawDialBuffers(sa unix.Sockaddr, size int) (int, error) {
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if size > 0 {
		// Before connect, so that the window the handshake offers fits.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
			return fd, err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, size); err != nil {
			return fd, err
		}
	}
	// An interrupted connect goes on in the kernel: asking again says
	// EALREADY until it is done, then EISCONN.
	err = unix.Connect(fd, sa)
	for err == unix.EINTR || err == unix.EALREADY {
		time.Sleep(time.Millisecond)
		err = unix.Connect(fd, sa)
	}
	if err != nil && err != unix.EISCONN {
		return fd, err
	}
	return fd, nil
}

// RawRead is one read(2) of blocking socket fd, retried across
// interruptions.
func RawRead(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// RawReadFull fills b from blocking socket fd; an end of stream before b
// is full is io.ErrUnexpectedEOF.
func RawReadFull(fd int, b []byte) error {
	for got := 0; got < len(b); {
		n, err := RawRead(fd, b[got:])
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		got += n
	}
	return nil
}

// RawWriteAll writes all of b on blocking socket fd.
func RawWriteAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
