package port

import (
	"errors"
	"unsafe"

	"github.com/cport/cport/internal/sock"
	"golang.org/x/sys/windows"
)

// slotSys is the per-slot memory Windows reads or writes while the slot's
// operation is in flight. The OVERLAPPED comes first: a completion hands
// back its address, and iocp.slotOf turns that address into the slot.
// Slots never move (slots.go), so neither does anything here.
type slotSys struct {
	ov    windows.Overlapped
	key   Key            // the key the operation runs under
	buf   windows.WSABuf // the single buffer of recv and send
	n     uint32         // byte count a call reports when it completes at once
	flags uint32         // WSARecv's in/out flags

	// Accept: the socket AcceptEx accepts into and the room it writes both
	// addresses to (each needs 16 bytes more than the address, MSDN says).
	acceptSock windows.Handle
	acceptBuf  [2 * (unsafe.Sizeof(windows.RawSockaddrAny{}) + 16)]byte

	ms       msState // where an emulated multishot stands
	stopping bool    // a cancel was asked for: re-issue nothing more
}

// msState is the step an emulated multishot operation is in.
type msState uint8

const (
	msNone     msState = iota
	msIssued           // its overlapped call is in flight
	msFinished         // its final completion is queued
)

// sockaddrBuf is a socket address in Winsock's layout.
type sockaddrBuf struct {
	sa windows.RawSockaddrAny
	n  int32
}

// msgSys is Windows' view of a Msg: the buffer array and the peer address.
type msgSys struct {
	bufs    []windows.WSABuf
	name    windows.RawSockaddrAny
	namelen int32
}

// prepare checks the slot's op and writes the memory the system reads for
// it; it is the only step of a submission that fails on bad input.
func (s *slot) prepare() error {
	op := &s.op
	s.sys.ov = windows.Overlapped{}
	s.sys.ms, s.sys.stopping = msNone, false
	switch op.code {
	case opConnect:
		t := op.target
		if t.addr.Unix {
			return errNoUnix
		}
		n, err := sock.PutSockaddr(sockaddrBytes(&t.raw.sa), t.addr)
		if err != nil {
			return err
		}
		t.raw.n = int32(n)
	case opSendmsg, opRecvmsg:
		if op.msg == nil {
			return errNilMsg
		}
		return op.msg.prepare(op.code == opSendmsg)
	case opRead, opWrite:
		// Overlapped handles have no file position; -1 asks for the one
		// synchronous handles keep (FILE_USE_FILE_POINTER_POSITION), and
		// pipes ignore the offset altogether.
		off := uint64(op.off)
		if op.off < 0 {
			off = 0xFFFFFFFF_FFFFFFFE
		}
		s.sys.ov.Offset, s.sys.ov.OffsetHigh = uint32(off), uint32(off>>32)
	}
	return nil
}

var (
	errNilMsg = errors.New("port: SendMsg/RecvMsg with a nil *Msg")
	errNoUnix = errors.New("port: Unix sockets are not supported by the iocp backend")
)

// prepare fills m's buffer array and, for a send with an address, the
// destination; a receive gets room for the sender's address.
func (m *Msg) prepare(send bool) error {
	s := &m.sys
	s.bufs = s.bufs[:0]
	for _, b := range m.Buffers {
		if len(b) > 0 {
			s.bufs = append(s.bufs, windows.WSABuf{Len: uint32(min(len(b), maxIO)), Buf: &b[0]})
		}
	}
	s.namelen = 0
	switch {
	case !send:
		s.name = windows.RawSockaddrAny{}
		s.namelen = int32(unsafe.Sizeof(s.name))
	case m.Addr.IsValid():
		n, err := sock.PutSockaddr(sockaddrBytes(&s.name), sock.IPAddr(m.Addr))
		if err != nil {
			return err
		}
		s.namelen = int32(n)
	}
	m.Flags, m.ControlLen = 0, 0
	return nil
}

// complete copies the sender's address out of a finished receive. Windows
// has no ancillary data on this path, so ControlLen stays 0.
func (m *Msg) complete(res int32) {
	if res >= 0 && m.sys.namelen > 0 && m.sys.name.Addr.Family != 0 {
		b := sockaddrBytes(&m.sys.name)
		if a, err := sock.ParseSockaddr(b[:min(int(m.sys.namelen), len(b))]); err == nil {
			m.Addr = a.IP
		}
	}
}

// wsabufs returns the address and count of m's buffer array.
func (m *Msg) wsabufs() (*windows.WSABuf, uint32) {
	if len(m.sys.bufs) == 0 {
		return nil, 0
	}
	return &m.sys.bufs[0], uint32(len(m.sys.bufs))
}

// sockaddrBytes is the memory of raw, for sock's encoder and decoder.
func sockaddrBytes(raw *windows.RawSockaddrAny) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(raw)), unsafe.Sizeof(*raw))
}

// allocRegion commits memory outside the Go heap with VirtualAlloc: the
// collector never scans or moves it, and the system may hold its
// addresses freely.
func allocRegion(n int) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	p, err := windows.VirtualAlloc(0, uintptr(n), windows.MEM_COMMIT|windows.MEM_RESERVE, windows.PAGE_READWRITE)
	if err != nil {
		return nil, err
	}
	// Read the address as a pointer through memory rather than converting
	// the integer: the region is not Go memory, so the collector ignores it.
	base := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	return unsafe.Slice((*byte)(base), n), nil
}

// discardRegion tells the system b's pages need not be kept (MEM_RESET);
// the pool's next writes refill them.
func discardRegion(b []byte) {
	if len(b) > 0 {
		_, _ = windows.VirtualAlloc(uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), windows.MEM_RESET, windows.PAGE_READWRITE)
	}
}

// freeRegion releases memory from allocRegion.
func freeRegion(b []byte) {
	if len(b) > 0 {
		_ = windows.VirtualFree(uintptr(unsafe.Pointer(&b[0])), 0, windows.MEM_RELEASE)
	}
}
