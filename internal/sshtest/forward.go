package sshtest

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"

	"golang.org/x/crypto/ssh"
)

// forward serves a direct-tcpip channel, as a ProxyJump host's sshd does:
// it dials the target the client asked for and copies bytes both ways.
func (srv *Server) forward(nc ssh.NewChannel) {
	// RFC 4254 7.2: host to connect, port, originator address, port.
	data := nc.ExtraData()
	host := str(data)
	if len(data) < 8+len(host) {
		nc.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	port := binary.BigEndian.Uint32(data[4+len(host):])
	target := net.JoinHostPort(host, strconv.Itoa(int(port)))
	addr := target
	if a, ok := srv.opts.Routes[target]; ok {
		addr = a
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	select {
	case srv.Forwarded <- target:
	default:
	}
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(conn, ch)
		conn.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(ch, conn)
		ch.CloseWrite()
		done <- struct{}{}
	}()
	<-done
	<-done
	ch.Close()
	conn.Close()
}
