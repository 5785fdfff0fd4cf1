//go:build !linux

package sock

import (
	"fmt"
	"runtime"
)

// Inherited describes a listening socket a program was handed.
type Inherited struct {
	FD      int
	Network string
	Path    string
}

// Inherit is not available on this platform.
func Inherit(fd int) (Inherited, error) {
	return Inherited{}, fmt.Errorf("sock: inherited listening sockets are not supported on %s", runtime.GOOS)
}
