package port

import (
	"errors"
	"fmt"
	"syscall"
)

// openBackend picks the backend: the one named in cfg.Backend, else
// io_uring when this kernel lets us use it, else epoll.
func openBackend(cfg *Config, bufs *bufferPool, slots *slotTable) (backend, error) {
	switch cfg.Backend {
	case "uring":
		b, err := openURing(cfg, bufs)
		if err != nil {
			return nil, fmt.Errorf("port: io_uring backend was asked for (CPORT_BACKEND or Config.Backend) but cannot open: %w", err)
		}
		return b, nil
	case "epoll":
		return openEpoll(cfg, bufs, slots)
	case "iocp":
		return nil, fmt.Errorf("port: the iocp backend exists only on Windows; on Linux use uring or epoll")
	}
	b, err := openURing(cfg, bufs)
	if err == nil {
		return b, nil
	}
	if !uringUnavailable(err) {
		return nil, err
	}
	return openEpoll(cfg, bufs, slots)
}

// uringUnavailable reports whether an io_uring setup error means "this
// process may not use io_uring here" (fall back to epoll) rather than a
// real failure worth reporting. EPERM comes from kernel.io_uring_disabled
// and from container seccomp profiles (Docker's default blocks the three
// io_uring system calls); ENOSYS from kernels built without it; EINVAL and
// errUringTooOld from kernels that lack what the backend needs.
func uringUnavailable(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOMEM) || errors.Is(err, errUringTooOld)
}
