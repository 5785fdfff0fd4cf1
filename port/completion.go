package port

// Completion is one finished operation, as Wait returns it: the key it was
// submitted under, the result and flags. Res is what the system call would
// have returned: a count, a new file descriptor, zero, or -errno.
type Completion struct {
	Key   Key
	Res   int32
	Flags uint32
}

// Completion flags. Their values are io_uring's; the other backends set the
// same bits for the same meaning.
const (
	// FlagBuffer: the result landed in a provided buffer; see BufferID.
	FlagBuffer uint32 = 1 << 0
	// FlagMore: a multishot operation goes on; more completions follow for
	// the same key. A completion without it is the key's last for this
	// operation, after which the key may be used again.
	FlagMore uint32 = 1 << 1
	// FlagSockNonempty: the socket still had data to read after this one.
	FlagSockNonempty uint32 = 1 << 2
)

const bufferIDShift = 16

// More reports whether further completions will follow for the operation.
func (c Completion) More() bool { return c.Flags&FlagMore != 0 }

// Err is nil for a non-negative result and the syscall.Errno otherwise.
func (c Completion) Err() error { return errnoErr(c.Res) }

// BufferID reports which provided buffer holds the data, if any.
func (c Completion) BufferID() (id uint16, ok bool) {
	if c.Flags&FlagBuffer == 0 {
		return 0, false
	}
	return uint16(c.Flags >> bufferIDShift), true
}
