package loop

import (
	"errors"

	"github.com/cport/cport/port"
)

// Handler receives the completions of the operations submitted under its
// keys, on the loop goroutine. A type that owns several keys (a connection
// with a receive and a send) implements it once and tells its keys apart
// by Completion.Key, which costs no closure per key.
type Handler interface {
	Complete(port.Completion)
}

// Callback is a Handler made of a function.
type Callback func(port.Completion)

// Complete calls f.
func (f Callback) Complete(c port.Completion) { f(c) }

// entry maps one key to its handler. The key is kept beside the handler
// because the slot index is reused: a completion whose key differs from
// the entry's belongs to an earlier owner and is dropped.
type entry struct {
	key port.Key
	h   Handler
}

// keyTable is the callback map: entries indexed by key index, in chunks
// that are never copied, so a server growing to a million keys does not
// copy (and briefly hold twice) a million entries on the way.
type keyTable struct {
	chunks []*[keyChunk]entry
}

const keyChunk = 1024

// at returns the entry for index i, or nil if none was ever made.
func (t *keyTable) at(i uint32) *entry {
	c := i / keyChunk
	if c >= uint32(len(t.chunks)) {
		return nil
	}
	return &t.chunks[c][i%keyChunk]
}

// grow returns the entry for index i, making its chunk if needed.
func (t *keyTable) grow(i uint32) *entry {
	for i/keyChunk >= uint32(len(t.chunks)) {
		t.chunks = append(t.chunks, new([keyChunk]entry))
	}
	return t.at(i)
}

var errNilCallback = errors.New("loop: nil callback")

// Register creates a key and maps it to cb (loop only). The key stays
// registered until Release, whatever happens to its operations.
func (l *Loop) Register(cb Callback) (port.Key, error) {
	if cb == nil {
		return 0, errNilCallback
	}
	return l.RegisterHandler(cb)
}

// RegisterHandler is Register with a Handler (loop only).
func (l *Loop) RegisterHandler(h Handler) (port.Key, error) {
	if h == nil {
		return 0, errNilCallback
	}
	if l.closing.Load() {
		return 0, ErrClosed
	}
	k, err := l.port.Register()
	if err != nil {
		return 0, portErr(err)
	}
	i := int(k.Index())
	*l.keys.grow(uint32(i)) = entry{key: k, h: h}
	return k, nil
}

// Submit starts op under k (loop only). Its completion reaches k's
// callback on a later iteration, never from inside Submit.
func (l *Loop) Submit(k port.Key, op port.Op) error {
	if l.closing.Load() {
		return ErrClosed
	}
	return portErr(l.port.Submit(k, op))
}

// Cancel asks k's operation in flight to end (loop only); the callback
// still gets its final completion, with ECANCELED unless it finished first.
func (l *Loop) Cancel(k port.Key) error {
	return portErr(l.port.Cancel(k))
}

// Release unmaps k and gives it back to the port (loop only). An operation
// still in flight is cancelled and its completion is swallowed: the
// callback is not called again. Its buffers stay pinned until the kernel
// lets go of them.
func (l *Loop) Release(k port.Key) error {
	if e := l.keys.at(k.Index()); e != nil && e.key == k {
		*e = entry{}
	}
	return portErr(l.port.Release(k))
}

// portErr gives the port's ErrClosed the loop's name, so callers test for
// one value whichever layer noticed.
func portErr(err error) error {
	if err == port.ErrClosed {
		return ErrClosed
	}
	return err
}

// Port is the loop's completion port, for what the loop does not wrap
// (provided buffers, CancelFD). Loop only, like the port itself.
func (l *Loop) Port() *port.Port { return l.port }

// dispatch calls the callback k is mapped to, if k is still the key that
// owns its slot.
func (l *Loop) dispatch(c port.Completion) {
	i := c.Key.Index()
	ep := l.keys.at(i)
	if ep == nil {
		return
	}
	e := *ep
	if e.key != c.Key || e.h == nil {
		return
	}
	l.invokeCallback(e.h, c)
}
