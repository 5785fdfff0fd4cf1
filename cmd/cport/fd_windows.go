package main

import "github.com/cport/cport/internal/sock"

// closeFD closes a socket. On Windows cport's descriptors are socket
// handles, which closesocket releases (CloseHandle would leak the
// Winsock state).
func closeFD(fd int) { sock.Close(fd) }
