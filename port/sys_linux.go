package port

import (
	"errors"
	"os"
	"unsafe"

	"github.com/cport/cport/internal/sock"
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
		if t.addr.Unix && t.addr.Name == "" {
			return errBadAddr // an unnamed socket cannot be connected to
		}
		n, err := sock.PutSockaddr(sockaddrBytes(&t.raw.sa), t.addr)
		if err != nil {
			return err
		}
		t.raw.n = uint32(n)
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
		n, err := sock.PutSockaddr(sockaddrBytes(&s.name), sock.IPAddr(m.Addr))
		if err != nil {
			return err
		}
		s.hdr.Name = (*byte)(unsafe.Pointer(&s.name))
		s.hdr.Namelen = uint32(n)
	}
	m.Flags, m.ControlLen = 0, 0
	return nil
}

// complete copies a finished operation's results out of the kernel's
// header: the sender's address, the flags and the control length.
func (m *Msg) complete(res int32) {
	s := &m.sys
	if res >= 0 && s.hdr.Name != nil && s.hdr.Namelen > 0 {
		b := sockaddrBytes(&s.name)
		if a, err := sock.ParseSockaddr(b[:min(int(s.hdr.Namelen), len(b))]); err == nil {
			m.Addr = a.IP // the zero AddrPort for a Unix sender
		}
	}
	m.Flags = int(s.hdr.Flags)
	m.ControlLen = int(s.hdr.Controllen)
}

var errBadAddr = errors.New("port: invalid socket address")

// sockaddrBytes is the memory of raw, for sock's encoder and decoder.
func sockaddrBytes(raw *unix.RawSockaddrAny) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(raw)), unsafe.Sizeof(*raw))
}

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
