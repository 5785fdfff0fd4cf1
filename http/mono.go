package http

import "time"

// epoch anchors mono: every connection time is an offset from it.
var epoch = time.Now()

// mono is a time as nanoseconds since epoch, measured on the monotonic
// clock (loop times carry its reading): 8 bytes where a time.Time takes
// 24, which counts in a struct every idle connection keeps.
type mono int64

func monoOf(t time.Time) mono { return mono(t.Sub(epoch)) }

func (m mono) add(d time.Duration) mono { return m + mono(d) }
