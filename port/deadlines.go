package port

import "time"

// deadlines is a binary min-heap of pending timeout operations, ordered by
// deadline, for the backends that time operations themselves (epoll and
// IOCP; io_uring's kernel keeps its own). Each item's owner records the
// item's heap position, so a cancelled timeout leaves in O(log n) without
// a search.
type deadlines[T any] struct {
	items []T
}

// heapOwner tells the heap an item's deadline and hears where it moved.
type heapOwner[T any] interface {
	deadline(T) int64
	placed(x T, at int)
}

// first is the item with the earliest deadline.
func (d *deadlines[T]) first() (T, bool) {
	if len(d.items) == 0 {
		var zero T
		return zero, false
	}
	return d.items[0], true
}

func (d *deadlines[T]) push(o heapOwner[T], x T) {
	d.items = append(d.items, x)
	o.placed(x, len(d.items)-1)
	d.up(o, len(d.items)-1)
}

// remove takes out the item at heap position at.
func (d *deadlines[T]) remove(o heapOwner[T], at int) {
	last := len(d.items) - 1
	if at != last {
		d.swap(o, at, last)
	}
	var zero T
	d.items[last] = zero
	d.items = d.items[:last]
	if at != last {
		d.down(o, at)
		d.up(o, at)
	}
}

func (d *deadlines[T]) less(o heapOwner[T], x, y int) bool {
	return o.deadline(d.items[x]) < o.deadline(d.items[y])
}

func (d *deadlines[T]) swap(o heapOwner[T], x, y int) {
	d.items[x], d.items[y] = d.items[y], d.items[x]
	o.placed(d.items[x], x)
	o.placed(d.items[y], y)
}

func (d *deadlines[T]) up(o heapOwner[T], at int) {
	for at > 0 {
		parent := (at - 1) / 2
		if !d.less(o, at, parent) {
			return
		}
		d.swap(o, at, parent)
		at = parent
	}
}

func (d *deadlines[T]) down(o heapOwner[T], at int) {
	n := len(d.items)
	for {
		least := at
		if l := 2*at + 1; l < n && d.less(o, l, least) {
			least = l
		}
		if r := 2*at + 2; r < n && d.less(o, r, least) {
			least = r
		}
		if least == at {
			return
		}
		d.swap(o, at, least)
		at = least
	}
}

// msUntil converts the time from now to t (nanoseconds on a backend's
// clock) into a wait's milliseconds, rounding up so that a wait never ends
// before t, and capping at limit.
func msUntil(t, now, limit int64) int64 {
	d := t - now
	if d <= 0 {
		return 0
	}
	return min((d+int64(time.Millisecond)-1)/int64(time.Millisecond), limit)
}
