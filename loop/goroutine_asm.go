//go:build amd64 || arm64

package loop

// getg returns the running goroutine's g pointer, from the register or
// thread-local slot where the runtime keeps it (goroutine_$GOARCH.s). A g
// is never freed, so the value stays a valid identity while its goroutine
// lives; the loop forgets its own before exiting, as the runtime reuses gs.
func getg() uintptr

// onLoop compares g pointers: the loop's, then its guest's (guest.go). A
// few loads and compares, cheap enough to guard every Transport.Write.
func (l *Loop) onLoop() bool {
	g := getg()
	return g == l.g.Load() || g == l.guest.Load()
}
