package loop

import (
	"errors"

	"github.com/cport/cport/port"
)

// Callback receives the completions of the operations submitted under its
// key, on the loop goroutine.
type Callback func(port.Completion)

// entry maps one key to its callback. The key is kept beside the callback
// because the slot index is reused: a completion whose key differs from
// the entry's belongs to an earlier owner and is dropped.
type entry struct {
	key port.Key
	cb  Callback
}

var errNilCallback = errors.New("loop: nil callback")

// Register creates a key and maps it to cb (loop only). The key stays
// registered until Release, whatever happens to its operations.
func (l *Loop) Register(cb Callback) (port.Key, error) {
	if cb == nil {
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
	if i >= len(l.keys) {
		l.keys = append(l.keys, make([]entry, i+1-len(l.keys))...)
	}
	l.keys[i] = entry{key: k, cb: cb}
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
	if i := k.Index(); i < uint32(len(l.keys)) && l.keys[i].key == k {
		l.keys[i] = entry{}
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
	if i >= uint32(len(l.keys)) {
		return
	}
	e := l.keys[i]
	if e.key != c.Key || e.cb == nil {
		return
	}
	l.invokeCallback(e.cb, c)
}
