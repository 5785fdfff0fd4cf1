package port

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// result turns what Windows reported for an operation of kind code (the
// byte count and the error, zero for success) into the completion result
// the Linux backends would give: the count, or -errno. It is the one place
// where Windows errors become results. Errors with a common meaning become
// the syscall.Errno values the Linux side uses, so callers test one set of
// values on every platform; Go's syscall package gives Windows the same
// names (ECANCELED, ETIME, … as its "invented" values). Anything else stays
// the raw Windows error, negated.
//
//	Windows                                       result
//	ERROR_OPERATION_ABORTED (CancelIoEx, close)   -ECANCELED
//	ERROR_HANDLES_CLOSED (closed under the call)  -ECANCELED
//	ERROR_HANDLE_EOF, ERROR_BROKEN_PIPE on read    0 (end of file)
//	ERROR_BROKEN_PIPE, ERROR_NO_DATA on write     -EPIPE
//	WSAESHUTDOWN                                  -EPIPE
//	ERROR_NETNAME_DELETED, WSAECONNRESET          -ECONNRESET
//	ERROR_CONNECTION_ABORTED, WSAECONNABORTED     -ECONNABORTED
//	ERROR_CONNECTION_REFUSED, WSAECONNREFUSED,
//	ERROR_PORT_UNREACHABLE                        -ECONNREFUSED
//	WSAENOBUFS                                    -ENOBUFS
//	ERROR_MORE_DATA, WSAEMSGSIZE on recvmsg       the count (truncated datagram)
//	ERROR_MORE_DATA, WSAEMSGSIZE otherwise        -EMSGSIZE
//	ERROR_INVALID_HANDLE, WSAENOTSOCK             -EBADF
//	ERROR_INVALID_PARAMETER, WSAEINVAL            -EINVAL
//	WSAEWOULDBLOCK                                -EAGAIN
//	ERROR_SEM_TIMEOUT, WSAETIMEDOUT               -ETIMEDOUT
//	ERROR_NETWORK_UNREACHABLE, WSAENETUNREACH     -ENETUNREACH
//	ERROR_HOST_UNREACHABLE, WSAEHOSTUNREACH       -EHOSTUNREACH
//	anything else e                               -e (a windows.Errno)
func result(code opcode, n uint32, e syscall.Errno) int32 {
	var errno syscall.Errno
	switch e {
	case 0:
		return int32(min(n, maxIO))
	case windows.ERROR_OPERATION_ABORTED, windows.ERROR_HANDLES_CLOSED:
		errno = syscall.ECANCELED
	case windows.ERROR_HANDLE_EOF, windows.ERROR_BROKEN_PIPE, windows.ERROR_NO_DATA:
		if code == opRead || code == opRecv || code == opRecvmsg {
			return 0
		}
		errno = syscall.EPIPE
	case windows.WSAESHUTDOWN:
		errno = syscall.EPIPE
	case windows.ERROR_NETNAME_DELETED, windows.WSAECONNRESET:
		errno = syscall.ECONNRESET
	case windows.ERROR_CONNECTION_ABORTED, windows.WSAECONNABORTED:
		errno = syscall.ECONNABORTED
	case windows.ERROR_CONNECTION_REFUSED, windows.WSAECONNREFUSED, windows.ERROR_PORT_UNREACHABLE:
		errno = syscall.ECONNREFUSED
	case windows.WSAENOBUFS:
		errno = syscall.ENOBUFS
	case windows.ERROR_MORE_DATA, windows.WSAEMSGSIZE:
		if code == opRecvmsg {
			return int32(min(n, maxIO))
		}
		errno = syscall.EMSGSIZE
	case windows.ERROR_INVALID_HANDLE, windows.WSAENOTSOCK:
		errno = syscall.EBADF
	case windows.ERROR_INVALID_PARAMETER, windows.WSAEINVAL:
		errno = syscall.EINVAL
	case windows.WSAEWOULDBLOCK:
		errno = syscall.EAGAIN
	case windows.ERROR_SEM_TIMEOUT, windows.WSAETIMEDOUT:
		errno = syscall.ETIMEDOUT
	case windows.ERROR_NETWORK_UNREACHABLE, windows.WSAENETUNREACH:
		errno = syscall.ENETUNREACH
	case windows.ERROR_HOST_UNREACHABLE, windows.WSAEHOSTUNREACH:
		errno = syscall.EHOSTUNREACH
	default:
		errno = e
	}
	return -int32(errno)
}

// errnoOf extracts the Windows error from a call's error value (0 for nil).
func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	// The error may come wrapped (os.SyscallError from internal/sock).
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return windows.ERROR_INVALID_PARAMETER
}

// negErrno is -e as a result, for errors the backend itself decides on
// (ETIME of a timeout, ENOBUFS of an empty pool, ECANCELED of a timer).
func negErrno(e syscall.Errno) int32 { return -int32(e) }
