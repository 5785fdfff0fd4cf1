package port

import "errors"

var errUringTooOld = errors.New("port: io_uring lacks features cport needs")

func openURing(cfg *Config, bufs *bufferPool) (backend, error) {
	return nil, errUringTooOld
}
