// Package transport is cport's PEP 3156 layer: transports and protocols
// over TCP, Unix stream and UDP sockets, on the loops of package loop.
//
// A Protocol is the user's half of a connection: the loop calls its
// ConnectionMade, DataReceived, EOFReceived and ConnectionLost as things
// happen, one at a time, on the connection's loop. A Transport is cport's
// half: Write, WriteEOF, Close, Abort, PauseReading and the rest. Every
// Transport method may be called from any goroutine; off the loop it is
// posted to the loop in call order, which is what keeps connection state
// on one goroutine without locks.
//
// Reading takes buffers from the loop's provided-buffer pool only while
// data arrives: an idle connection holds no read buffer. Writes are copied
// into the connection's queue and sent one send at a time, vectored when
// several are queued; a short send keeps the rest queued in order, and
// the write-buffer watermarks tell the protocol when to pause and resume.
package transport
