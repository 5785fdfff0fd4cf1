package port

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A burst of input on many sockets, each answered with a send as it is
// handed out (an echo server's), keeps the epoll backend's ready queue
// near one batch: the sends a batch starts refill the queue, and polling
// a full set of events on top of them every wait would grow it by that
// much per wait, to about a completion per socket, all held at once.
func TestEpollBurstKeepsReadyQueueNearBatch(t *testing.T) {
	const conns, batch = 1000, 64
	p, err := Open(Config{Backend: "epoll", Buffers: 1024, BufferSize: 1024})
	if err != nil {
		t.Skipf("epoll: %v", err)
	}
	defer p.Close()
	b := p.b.(*epollBackend)
	type pair struct {
		fd, peer    int
		recv, send  Key
		got, echoed bool
	}
	pairs := make([]pair, conns)
	byKey := map[Key]*pair{}
	for i := range pairs {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("socketpair: %v", err)
		}
		pr := &pairs[i]
		pr.fd, pr.peer = fds[0], fds[1]
		defer unix.Close(pr.peer)
		pr.recv, _ = p.Register()
		pr.send, _ = p.Register()
		byKey[pr.recv], byKey[pr.send] = pr, pr
		if err := p.Submit(pr.recv, RecvMultishot(pr.fd)); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]Completion, batch)
	p.Wait(out, 0) // every receive parks: nothing to read yet
	msg := []byte("ping")
	for _, pr := range pairs {
		if _, err := unix.Write(pr.peer, msg); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	most, recvs, sends := 0, 0, 0
	for deadline := time.Now().Add(10 * time.Second); sends < conns; {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %d of %d received, %d sent", recvs, conns, sends)
		}
		n, err := p.Wait(out, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, b.cq.len())
		for _, c := range out[:n] {
			pr := byKey[c.Key]
			switch {
			case c.Key == pr.recv:
				if c.Res != int32(len(msg)) || pr.got {
					t.Fatalf("receive: result %d (received before: %v)", c.Res, pr.got)
				}
				id, _ := c.BufferID()
				p.RecycleBuffer(id)
				pr.got = true
				recvs++
				if err := p.Submit(pr.send, Send(pr.fd, msg)); err != nil {
					t.Fatal(err)
				}
			case c.Res != int32(len(msg)) || pr.echoed:
				t.Fatalf("send: result %d (sent before: %v)", c.Res, pr.echoed)
			default:
				pr.echoed = true
				sends++
			}
		}
	}
	t.Logf("%d sockets, batches of %d: at most %d completions queued after a wait", conns, batch, most)
	if limit := 2*batch + minPollEvents; most > limit {
		t.Errorf("the ready queue held %d completions after a wait, want at most %d", most, limit)
	}
	for _, pr := range pairs {
		p.Submit(pr.send, Close(pr.fd))
	}
}
