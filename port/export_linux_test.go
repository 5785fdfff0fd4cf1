package port

// WithoutMinTimeout runs f with io_uring rings opened as on a kernel
// without batch waits (before 6.12).
func WithoutMinTimeout(f func()) {
	ignoreMinTimeout = true
	defer func() { ignoreMinTimeout = false }()
	f()
}
