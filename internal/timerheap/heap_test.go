package timerheap

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the obvious implementation the heap must agree with: a list
// sorted by deadline, then by push order.
type model struct {
	items []Entry
	seq   uint32
}

func (m *model) push(id uint32, when int64) {
	m.remove(id)
	m.seq++
	m.items = append(m.items, Entry{When: when, ID: id, Seq: m.seq})
	slices.SortStableFunc(m.items, func(a, b Entry) int { return cmp.Compare(a.When, b.When) })
}

func (m *model) remove(id uint32) bool {
	for i, e := range m.items {
		if e.ID == id {
			m.items = slices.Delete(m.items, i, i+1)
			return true
		}
	}
	return false
}

// drain pops every timer off h and compares the order with m's.
func drain(t *testing.T, h *Heap, m *model) {
	t.Helper()
	for i, want := range m.items {
		got, ok := h.Top()
		if !ok {
			t.Fatalf("heap empty after %d timers, want %d", i, len(m.items))
		}
		if got != want {
			t.Fatalf("timer %d out: %+v, want %+v", i, got, want)
		}
		if i%2 == 0 {
			if popped, ok := h.Pop(); !ok || popped != got {
				t.Fatalf("Pop() = %+v, %v; want the top, %+v", popped, ok, got)
			}
		} else if !h.Remove(got.ID) {
			t.Fatalf("Remove(%d) of the top = false", got.ID)
		}
	}
	if e, ok := h.Top(); ok || h.Len() != 0 {
		t.Fatalf("heap holds %+v (len %d) after the last timer", e, h.Len())
	}
}

func TestOrderAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		var h Heap
		var m model
		ids := 1 + rng.IntN(300)
		for range 4 * ids {
			id := uint32(rng.IntN(ids))
			switch rng.IntN(4) {
			case 0:
				if got, want := h.Remove(id), m.remove(id); got != want {
					t.Fatalf("round %d: Remove(%d) = %v, want %v", round, id, got, want)
				}
			default:
				when := int64(rng.IntN(50)) // few deadlines: many ties
				h.Push(id, when)
				m.push(id, when)
			}
			if h.Len() != len(m.items) {
				t.Fatalf("round %d: Len %d, want %d", round, h.Len(), len(m.items))
			}
			for _, e := range m.items[:min(3, len(m.items))] {
				if !h.Contains(e.ID) {
					t.Fatalf("round %d: Contains(%d) = false for an armed timer", round, e.ID)
				}
			}
		}
		drain(t, &h, &m)
	}
}

// Push order breaks ties across the wrap of the sequence counter.
func TestTiesAcrossSeqWrap(t *testing.T) {
	h := Heap{seq: ^uint32(0) - 2}
	var m model
	m.seq = h.seq
	for id := range uint32(6) {
		h.Push(id, 7)
		m.push(id, 7)
	}
	drain(t, &h, &m)
}

func TestRemoveAbsent(t *testing.T) {
	var h Heap
	if h.Remove(5) || h.Contains(5) {
		t.Fatal("an empty heap removed or contains id 5")
	}
	h.Push(5, 1)
	if !h.Remove(5) || h.Remove(5) || h.Contains(5) {
		t.Fatal("id 5 removed twice, or still contained")
	}
	h.Push(2, 1)
	h.Reset()
	if h.Len() != 0 || h.Contains(2) {
		t.Fatal("Reset left timers")
	}
}

// A heap of 1024 timers, one pushed and removed per iteration.
func BenchmarkPushRemove(b *testing.B) {
	var h Heap
	for i := range uint32(1024) {
		h.Push(i, int64(i)*1000)
	}
	for i := 0; b.Loop(); i++ {
		h.Push(1024, int64(i&1023)*1000+1)
		h.Remove(1024)
	}
}

// Fill with 1024 timers and take them all off the top.
func BenchmarkFillDrain(b *testing.B) {
	var h Heap
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		for i := range uint32(1024) {
			h.Push(i, rng.Int64N(1<<20))
		}
		for h.Len() > 0 {
			e, _ := h.Top()
			h.Remove(e.ID)
		}
	}
}
