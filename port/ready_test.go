package port

import "testing"

// A ready queue that a burst grew lets its array go once it is empty; a
// small one keeps it.
func TestReadyQueueShrinksAfterBurst(t *testing.T) {
	var q readyQueue
	out := make([]Completion, 64)
	for range 10 * readyQueueKeep {
		q.push(Completion{})
	}
	for q.len() > 0 {
		q.fill(out)
	}
	if c := cap(q.items); c > readyQueueKeep {
		t.Errorf("an emptied queue keeps room for %d completions, want at most %d", c, readyQueueKeep)
	}
	q.push(Completion{})
	q.fill(out)
	if cap(q.items) == 0 {
		t.Error("a small queue gave its array up: it would allocate on every push")
	}
}
