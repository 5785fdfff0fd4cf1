// Package sock creates the sockets cport's operations run on: listening and
// connecting sockets, non-blocking and close-on-exec from the start, and
// their addresses. The completion port takes file descriptors; this package
// makes them without going through Go's own poller.
package sock
