package port_test

import (
	"testing"

	"github.com/cport/cport/port"
)

func BenchmarkRecvSendPair(b *testing.B) {
	p := openPort(b, port.Config{})
	a, c := socketPair(b)
	msg, buf := make([]byte, 64), make([]byte, 64)
	// The receive goes first, so it waits for the send's data as a server's
	// read waits for its client.
	keys, ops := p.benchKeys(2), []port.Op{port.Recv(c, buf), port.Send(a, msg)}
	out := make([]port.Completion, 64)
	b.ReportAllocs()
	for b.Loop() {
		p.roundTrip(keys, ops, out)
	}
}
