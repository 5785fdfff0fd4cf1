package port

func openEpoll(cfg *Config, bufs *bufferPool) (backend, error) {
	return nil, ErrUnsupported
}
