package port

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring ABI, mirrored from include/uapi/linux/io_uring.h. x/sys/unix
// has only the system call numbers. uring_sys_linux_test.go checks sizes
// and offsets against the kernel's layout.

// ioUringSQE is struct io_uring_sqe (64 bytes).
type ioUringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64 // also addr2
	addr        uint64 // also splice_off_in
	len         uint32
	opFlags     uint32 // rw_flags, msg_flags, poll32_events, accept/cancel/timeout flags
	userData    uint64
	bufIndex    uint16 // also buf_group
	personality uint16
	spliceFdIn  int32 // also file_index, addr_len
	addr3       uint64
	_           uint64
}

// ioUringCQE is struct io_uring_cqe without the CQE32 extension (16 bytes).
type ioUringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

type ioSQRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type ioCQRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// ioUringParams is struct io_uring_params (120 bytes).
type ioUringParams struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        ioSQRingOffsets
	cqOff        ioCQRingOffsets
}

// ioUringGeteventsArg is struct io_uring_getevents_arg, for EXT_ARG waits.
type ioUringGeteventsArg struct {
	sigmask     uint64
	sigmaskSz   uint32
	minWaitUsec uint32
	ts          uint64
}

// ioUringBufReg is struct io_uring_buf_reg, for REGISTER_PBUF_RING.
type ioUringBufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	_           [3]uint64
}

// ioUringBuf is struct io_uring_buf, one entry of a provided-buffer ring.
// The ring's tail lives in the first entry's resv field.
type ioUringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// ioUringProbe is struct io_uring_probe followed by room for every opcode.
type ioUringProbe struct {
	lastOp uint8
	opsLen uint8
	_      uint16
	_      [3]uint32
	ops    [256]ioUringProbeOp
}

type ioUringProbeOp struct {
	op    uint8
	_     uint8
	flags uint16
	_     uint32
}

// Opcodes (enum io_uring_op).
const (
	iorNop         = 0
	iorPollAdd     = 6
	iorSendmsg     = 9
	iorRecvmsg     = 10
	iorTimeout     = 11
	iorAccept      = 13
	iorAsyncCancel = 14
	iorConnect     = 16
	iorClose       = 19
	iorRead        = 22
	iorWrite       = 23
	iorSend        = 26
	iorRecv        = 27
	iorShutdown    = 34
)

// Setup flags.
const (
	setupCQSize       = 1 << 3
	setupClamp        = 1 << 4
	setupSubmitAll    = 1 << 7
	setupCoopTaskrun  = 1 << 8
	setupTaskrunFlag  = 1 << 9
	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13
)

// Feature bits the kernel reports in params.features.
const (
	featSingleMmap = 1 << 0
	featNodrop     = 1 << 1
	featExtArg     = 1 << 8
	featMinTimeout = 1 << 15 // io_uring_getevents_arg.min_wait_usec (6.12)
)

// io_uring_enter flags.
const (
	enterGetevents = 1 << 0
	enterExtArg    = 1 << 3
)

// Flags the kernel sets in the SQ ring's flags word.
const (
	sqCQOverflow = 1 << 1
	sqTaskrun    = 1 << 2
)

// SQE flags and per-op flags.
const (
	sqeBufferSelect = 1 << 5

	recvMultishot   = 1 << 1 // in ioprio
	acceptMultishot = 1 << 0 // in ioprio

	cancelAll = 1 << 0
	cancelFD  = 1 << 1
	cancelAny = 1 << 2
)

// Register opcodes.
const (
	registerEventfd    = 4
	registerProbe      = 8
	registerPbufRing   = 22
	unregisterPbufRing = 23
)

// mmap offsets of the rings.
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

const probeOpSupported = 1

func ioUringSetup(entries uint32, p *ioUringParams) (int, error) {
	fd, _, e := unix.RawSyscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// ioUringEnter may block, so it goes through Syscall6: the runtime hands
// the goroutine's P to other goroutines while the loop's thread waits.
func ioUringEnter(fd int, toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSize uintptr) (int, error) {
	n, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), uintptr(arg), argSize)
	if e != 0 {
		return int(n), e
	}
	return int(n), nil
}

func ioUringRegister(fd int, opcode uint32, arg unsafe.Pointer, nrArgs uint32) error {
	_, _, e := unix.RawSyscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(opcode), uintptr(arg), uintptr(nrArgs), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
