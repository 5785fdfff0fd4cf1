//go:build !linux && !windows

package loop

// threadID is unknown here. No loop runs on these systems yet (the port
// has no backend), so onLoopThread has nothing to match.
func threadID() int32 { return 0 }

func (l *Loop) onLoopThread() bool { return false }
