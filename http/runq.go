package http

// The run queue: connections with a complete request head, waiting for a
// worker. It has two lanes so that a client with one request at a time
// is not served behind every request of every client that pipelines:
//   - fresh holds connections whose request arrived while they were idle,
//     or whose small body just came whole;
//   - later holds connections that were served pipelineTurn requests in
//     a row, or waited for their answers to drain (waitSend), and have
//     more queued.
// Workers take from fresh first, but at least one of later for every
// freshPerLater of fresh, so a steady stream of new requests cannot
// starve the pipelines.

const (
	// pipelineTurn is how many pipelined requests of one connection a
	// worker serves before it goes to the back of the later lane.
	pipelineTurn = 16
	// freshPerLater bounds how many fresh connections go before one of
	// the later lane.
	freshPerLater = 8
)

// connQueue is a FIFO of connections.
type connQueue struct {
	q    []*conn
	head int
}

func (q *connQueue) len() int { return len(q.q) - q.head }

func (q *connQueue) push(c *conn) { q.q = append(q.q, c) }

func (q *connQueue) pop() *conn {
	c := q.q[q.head]
	q.q[q.head] = nil
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	return c
}

// queued is how many connections wait for a worker.
func (ls *loopState) queued() int { return ls.fresh.len() + ls.later.len() }

// dispatch queues c, whose request head is complete, for a worker. One
// worker awake is enough: workers run one at a time on the loop, and the
// one that takes a connection wakes another before serving it, in case
// its handler parks. So a burst of requests that arrive together is
// served by one or two flows, not by a flow each that would then stay
// parked.
func (ls *loopState) dispatch(c *conn) {
	ls.fresh.push(c)
	ls.wakeOne()
}

// requeue queues c, which has had its turn, behind the fresh lane.
func (ls *loopState) requeue(c *conn) {
	ls.later.push(c)
	ls.wakeOne()
}

func (ls *loopState) wakeOne() {
	if ls.awake == 0 {
		ls.wake()
	}
}

// next takes the connection to serve next, or returns nil.
func (ls *loopState) next() *conn {
	switch {
	case ls.fresh.len() > 0 && (ls.freshRun < freshPerLater || ls.later.len() == 0):
		ls.freshRun++
		return ls.fresh.pop()
	case ls.later.len() > 0:
		ls.freshRun = 0
		return ls.later.pop()
	}
	return nil
}
