package port_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/port"
)

// Run on both backends and compare side by side:
//
//	for b in uring epoll; do CPORT_BACKEND=$b go test -run XXX -bench . -benchmem ./port/; done

// roundTrip submits each op under its key and waits until all have
// completed finally.
func (p *testPort) roundTrip(keys []port.Key, ops []port.Op, out []port.Completion) {
	for i, k := range keys {
		if err := p.Submit(k, ops[i]); err != nil {
			p.t.Fatalf("Submit: %v", err)
		}
	}
	for left := len(keys); left > 0; {
		n, err := p.Wait(out, -1)
		if err != nil {
			p.t.Fatalf("Wait: %v", err)
		}
		for _, c := range out[:n] {
			if c.Res < 0 && c.Res != -int32(syscall.ETIME) {
				p.t.Fatalf("completion %+v: %v", c, c.Err())
			}
			if !c.More() {
				left--
			}
		}
	}
}

// benchKeys registers n keys.
func (p *testPort) benchKeys(n int) []port.Key {
	keys := make([]port.Key, n)
	for i := range keys {
		keys[i] = p.register()
	}
	return keys
}

func BenchmarkNop(b *testing.B) {
	p := openPort(b, port.Config{})
	keys, ops := p.benchKeys(1), []port.Op{port.Nop()}
	out := make([]port.Completion, 64)
	b.ReportAllocs()
	for b.Loop() {
		p.roundTrip(keys, ops, out)
	}
}

func BenchmarkNopBatch64(b *testing.B) {
	p := openPort(b, port.Config{})
	keys, ops := p.benchKeys(64), make([]port.Op, 64)
	for i := range ops {
		ops[i] = port.Nop()
	}
	out := make([]port.Completion, 64)
	b.ReportAllocs()
	for b.Loop() {
		p.roundTrip(keys, ops, out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/nop")
}

func BenchmarkTimeout(b *testing.B) {
	p := openPort(b, port.Config{})
	keys, ops := p.benchKeys(1), []port.Op{port.Timeout(time.Nanosecond)}
	out := make([]port.Completion, 64)
	b.ReportAllocs()
	for b.Loop() {
		p.roundTrip(keys, ops, out)
	}
}
