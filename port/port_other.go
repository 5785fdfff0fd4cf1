//go:build !linux && !windows

package port

import (
	"fmt"
	"runtime"
)

type slotSys struct{}

type msgSys struct{}

type sockaddrBuf struct{}

func (m *Msg) complete(res int32) {}

func (s *slot) prepare() error { return nil }

func openBackend(cfg *Config, bufs *bufferPool, _ *slotTable) (backend, error) {
	return nil, fmt.Errorf("port: no completion-port backend on %s (cport has io_uring and epoll on Linux, IOCP on Windows)", runtime.GOOS)
}

func allocRegion(n int) ([]byte, error) { return make([]byte, n), nil }

func freeRegion(b []byte) {}

func discardRegion(b []byte) {}
