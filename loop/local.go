package loop

import "sync/atomic"

// Local is a variable with one value per loop, like a thread-local: each
// loop holds its own *T, made on first use. Packages above the loop keep
// their per-loop pools in one instead of a pointer in every object (a
// server's connections would each carry it).
type Local[T any] struct{ id int32 }

var localIDs atomic.Int32

// NewLocal makes a loop-local variable. Call it once, at package level.
func NewLocal[T any]() Local[T] { return Local[T]{id: localIDs.Add(1) - 1} }

// Get returns l's value (loop only), making it on first use.
func (v Local[T]) Get(l *Loop) *T {
	if int(v.id) >= len(l.locals) {
		l.locals = append(l.locals, make([]any, int(v.id)+1-len(l.locals))...)
	}
	p, _ := l.locals[v.id].(*T)
	if p == nil {
		p = new(T)
		l.locals[v.id] = p
	}
	return p
}
