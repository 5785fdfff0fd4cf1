package sock

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNotListening: an inherited descriptor is not a listening stream
// socket.
var ErrNotListening = errors.New("sock: not a listening stream socket")

// Inherited describes a listening socket a program was handed (systemd's
// socket activation, a parent that listened for it).
type Inherited struct {
	FD      int    // a duplicate, non-blocking and close-on-exec: the caller's
	Network string // "tcp" or "unix"
	Path    string // a Unix socket's, else ""
}

// Inherit duplicates fd, checks that it is a listening stream socket of
// a family cport serves, and makes the duplicate non-blocking. fd itself
// is left as it was, for its owner to close.
func Inherit(fd int) (Inherited, error) {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil {
		return Inherited{}, os.NewSyscallError("getsockopt(SO_ACCEPTCONN)", err)
	} else if v == 0 {
		return Inherited{}, ErrNotListening
	}
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
		return Inherited{}, ErrNotListening
	}
	a, err := LocalSocketAddr(fd)
	if errors.Is(err, ErrFamily) {
		return Inherited{}, ErrNotListening
	} else if err != nil {
		return Inherited{}, err
	}
	in := Inherited{Network: "tcp"}
	if a.Unix {
		in.Network, in.Path = "unix", a.Name
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return Inherited{}, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return Inherited{}, os.NewSyscallError("fcntl(O_NONBLOCK)", err)
	}
	in.FD = dup
	return in, nil
}
