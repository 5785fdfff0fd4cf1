package port

import "time"

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
