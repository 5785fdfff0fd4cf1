package port_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/cport/cport/port"
)

// Opening a port from goroutines the scheduler moves between threads (a
// probe, a test's setup) works every time: io_uring's single-issuer ring
// refuses registrations from another thread than the one that created it,
// so Open must not move in between.
func TestOpenFromUnlockedGoroutines(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	for range 2 { // keep the scheduler moving goroutines around
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
			}
		}()
	}
	defer close(stop)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				p, err := port.Open(port.Config{Buffers: 4, BufferSize: 4096})
				if err != nil {
					errs <- err
					return
				}
				runtime.Gosched()
				p.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Open from an unlocked goroutine: %v", err)
	}
}
