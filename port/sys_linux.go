package port

import (
	"errors"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// slotSys is per-slot memory for the kernel. Linux needs none: a connect's
// address lives in its connectTarget, a timeout's timespec in the SQ entry's
// own scratch (io_uring copies it when it reads the entry), so the slot of
// an idle connection carries nothing extra.
type slotSys struct{}

// sockaddrBuf is a socket address in the kernel's layout.
type sockaddrBuf struct {
	sa unix.RawSockaddrAny
	n  uint32
}

// msgSys is the kernel's view of a Msg: its header, iovecs and name.
type msgSys struct {
	hdr  unix.Msghdr
	iov  []unix.Iovec
	name unix.RawSockaddrAny
}

// prepare writes the memory the kernel will read for the slot's op: the
// timespec, the socket address, a message's header. It is the only step of
// a submission that can fail on bad input, so it runs before anything is
// queued and the backends' own preparation cannot fail.
func (s *slot) prepare() error {
	op := &s.op
	switch op.code {
	case opConnect:
		t := op.target
		n, err := encodeSockaddr(t.addr, t.path, &t.raw.sa)
		if err != nil {
			return err
		}
		t.raw.n = n
	case opSendmsg, opRecvmsg:
		if op.msg == nil {
			return errNilMsg
		}
		return op.msg.prepare(op.code == opSendmsg)
	}
	return nil
}

var errNilMsg = errors.New("port: SendMsg/RecvMsg with a nil *Msg")

// prepare fills m's header for a send (withAddr) or a receive.
func (m *Msg) prepare(send bool) error {
	s := &m.sys
	s.iov = s.iov[:0]
	for _, b := range m.Buffers {
		if len(b) == 0 {
			continue
		}
		s.iov = append(s.iov, unix.Iovec{Base: &b[0]})
		s.iov[len(s.iov)-1].SetLen(len(b))
	}
	s.hdr = unix.Msghdr{}
	if len(s.iov) > 0 {
		s.hdr.Iov = &s.iov[0]
		s.hdr.SetIovlen(len(s.iov))
	}
	if len(m.Control) > 0 {
		s.hdr.Control = &m.Control[0]
		s.hdr.SetControllen(len(m.Control))
	}
	switch {
	case !send:
		s.hdr.Name = (*byte)(unsafe.Pointer(&s.name))
		s.hdr.Namelen = uint32(unsafe.Sizeof(s.name))
	case m.Addr.IsValid():
		n, err := encodeSockaddr(m.Addr, "", &s.name)
		if err != nil {
			return err
		}
		s.hdr.Name = (*byte)(unsafe.Pointer(&s.name))
		s.hdr.Namelen = n
	}
	m.Flags, m.ControlLen = 0, 0
	return nil
}

// complete copies a finished operation's results out of the kernel's
// header: the sender's address, the flags and the control length.
func (m *Msg) complete(res int32) {
	s := &m.sys
	if res >= 0 && s.hdr.Name != nil && s.hdr.Namelen > 0 {
		m.Addr = decodeSockaddr(&s.name)
	}
	m.Flags = int(s.hdr.Flags)
	m.ControlLen = int(s.hdr.Controllen)
}

var errBadAddr = errors.New("port: invalid socket address")

// encodeSockaddr writes addr (or the Unix socket path) into raw in the
// kernel's layout and returns its length.
func encodeSockaddr(addr netip.AddrPort, path string, raw *unix.RawSockaddrAny) (uint32, error) {
	*raw = unix.RawSockaddrAny{}
	if path != "" || !addr.IsValid() {
		sun := (*unix.RawSockaddrUnix)(unsafe.Pointer(raw))
		if path == "" || len(path) >= len(sun.Path) {
			return 0, errBadAddr
		}
		sun.Family = unix.AF_UNIX
		for i := 0; i < len(path); i++ {
			sun.Path[i] = int8(path[i])
		}
		if path[0] == '@' { // abstract namespace
			sun.Path[0] = 0
		}
		return uint32(unsafe.Offsetof(sun.Path)) + uint32(len(path)) + 1, nil
	}
	ip := addr.Addr()
	port := addr.Port()
	if ip.Is4() || ip.Is4In6() {
		sin := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		sin.Family = unix.AF_INET
		p := (*[2]byte)(unsafe.Pointer(&sin.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		sin.Addr = ip.Unmap().As4()
		return unix.SizeofSockaddrInet4, nil
	}
	sin6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(raw))
	sin6.Family = unix.AF_INET6
	p := (*[2]byte)(unsafe.Pointer(&sin6.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	sin6.Addr = ip.As16()
	return unix.SizeofSockaddrInet6, nil
}

// decodeSockaddr reads an IPv4 or IPv6 address; other families give the
// zero AddrPort.
func decodeSockaddr(raw *unix.RawSockaddrAny) netip.AddrPort {
	switch raw.Addr.Family {
	case unix.AF_INET:
		sin := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		p := (*[2]byte)(unsafe.Pointer(&sin.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sin.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		sin6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(raw))
		p := (*[2]byte)(unsafe.Pointer(&sin6.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sin6.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// wakeOne is the eventfd increment both Linux backends write: a
// native-endian uint64 of 1.
var wakeOne = [8]byte{1}

// allocRegion maps anonymous memory outside the Go heap: the collector
// never scans or moves it, and the kernel may hold its addresses freely.
func allocRegion(n int) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
}

func freeRegion(b []byte) { _ = unix.Munmap(b) }

// discardRegion drops the whole pages of b from memory; the next touch
// maps zeroed ones.
func discardRegion(b []byte) {
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	skip := int((page - start%page) % page)
	if skip >= len(b) {
		return
	}
	_ = unix.Madvise(b[skip:], unix.MADV_DONTNEED)
}
