package port

import "fmt"

// Key names one slot of the port: the slot's index in the low 32 bits and
// its generation in the high 32. It travels to the kernel as the
// operation's user data (io_uring user_data, epoll's own queues, IOCP's
// OVERLAPPED) and comes back with the result. The generation changes each
// time a slot is released, so a completion that arrives for an earlier
// owner of the slot is recognised and dropped.
//
// Generations start at 1: a key of zero is never valid, and user data with
// a zero generation is free for the backends' own bookkeeping.
type Key uint64

func makeKey(index, gen uint32) Key { return Key(uint64(gen)<<32 | uint64(index)) }

func (k Key) index() uint32 { return uint32(k) }

// Index is the key's slot index. Indices are dense from zero and reused
// after Release, so a slice indexed by them is a compact key → value map.
func (k Key) Index() uint32 { return uint32(k) }
func (k Key) gen() uint32   { return uint32(k >> 32) }

// String formats the key as slot/generation, for logs.
func (k Key) String() string { return fmt.Sprintf("key(%d/%d)", k.index(), k.gen()) }
