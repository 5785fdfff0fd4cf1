package sshsession

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cport/cport/flow"
)

// dial reaches the last server of chain, through the ones before it (the
// ProxyJump hosts): a TCP connection on the loop to the first, then for
// each next one a direct-tcpip channel opened through the one before, as
// OpenSSH's ProxyJump does. It returns the last server's connection (closing
// it closes the jump hosts' too) and the TCP connection to the first.
func (c *Connector) dial(ctx context.Context, chain []endpoint) (*hostConn, *flow.Conn, error) {
	var (
		mu        sync.Mutex
		abandoned bool       // the flow has left: what the worker made, it closes
		conn      *flow.Conn // once dialled
		host      *hostConn
	)
	// The TCP dial runs on the worker too, not on the flow: it calls
	// deep into the loop's transport, which would grow the flow's stack
	// from 4 to 8 KiB, kept for as long as the host is in flight.
	err := c.dials.Run(ctx, func() error {
		tcp, err := flow.Dial(ctx, c.cfg.Loop, "tcp", chain[0].addr)
		if err != nil {
			if len(chain) > 1 {
				err = fmt.Errorf("jump host %s: %w", chain[0].name, err)
			}
			return err
		}
		// The deadline makes the handshakes fail at the connect timeout,
		// so the worker they run on is released even though the flow has
		// left. Every hop's bytes cross this first connection, so it
		// bounds them all.
		if d, ok := ctx.Deadline(); ok {
			tcp.SetDeadline(d)
		}
		mu.Lock()
		if abandoned {
			mu.Unlock()
			tcp.Close()
			return nil
		}
		conn = tcp
		mu.Unlock()
		var (
			clients []*ssh.Client // the jump hosts'
			last    *hostConn
		)
		closeAll := func() {
			for i := len(clients) - 1; i >= 0; i-- {
				clients[i].Close()
			}
		}
		var nc net.Conn = tcp
		for i, ep := range chain {
			if i > 0 {
				var err error
				nc, err = clients[i-1].Dial("tcp", ep.addr)
				if err != nil {
					closeAll()
					return fmt.Errorf("jump host %s: opening a channel to %s: %w", chain[i-1].name, ep.addr, err)
				}
			}
			sc, chans, reqs, err := ssh.NewClientConn(nc, ep.addr, &ssh.ClientConfig{
				User: ep.user, Auth: ep.auth, HostKeyCallback: ep.hostKey,
			})
			if err != nil {
				nc.Close()
				closeAll()
				if i < len(chain)-1 {
					return fmt.Errorf("jump host %s: %w", ep.name, err)
				}
				return err
			}
			h := newHostConn(sc, chans, reqs)
			if i < len(chain)-1 {
				// A jump host forwards the next hop's connection, which
				// takes an ssh.Client.
				clients = append(clients, h.client())
				continue
			}
			last = h
		}
		if jumps := clients; len(jumps) > 0 {
			// The jump hosts' connections live as long as the last one.
			c.background(func() {
				last.Wait()
				for i := len(jumps) - 1; i >= 0; i-- {
					jumps[i].Close()
				}
			})
		}
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			last.Close()
			return nil
		}
		host = last
		return nil
	})
	if err != nil {
		mu.Lock()
		abandoned = true
		if conn != nil {
			conn.Close() // ends a handshake still on the worker
		}
		mu.Unlock()
		return nil, nil, classify(err)
	}
	conn.SetDeadline(time.Time{})
	return host, conn, nil
}
