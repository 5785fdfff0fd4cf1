package port

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestEpollTimerHeapOrder(t *testing.T) {
	const n = 500
	var slots slotTable
	for range n {
		slots.alloc()
	}
	b := &epollBackend{slots: &slots}
	rng := rand.New(rand.NewPCG(1, 2))
	when := make([]int64, n)
	for i := range int32(n) {
		when[i] = rng.Int64N(1000) // many equal deadlines too
		b.timerPush(i, when[i])
	}
	removed := map[Key]bool{}
	for i := int32(0); i < n; i += 3 {
		b.unlink(i)
		removed[b.key(i)] = true
	}
	b.expireTimers(1 << 62)
	var whens []int64
	for _, c := range b.cq.items[b.cq.head:] {
		if removed[c.Key] {
			t.Fatalf("removed timer %v fired", c.Key)
		}
		whens = append(whens, when[c.Key.index()])
	}
	if want := n - len(removed); len(whens) != want {
		t.Fatalf("%d timers fired, want %d", len(whens), want)
	}
	if !slices.IsSorted(whens) {
		t.Fatalf("timers fired out of deadline order: %v", whens)
	}
}
