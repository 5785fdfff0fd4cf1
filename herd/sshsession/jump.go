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
// OpenSSH's ProxyJump does. It returns the last server's client (closing
// it closes the jump hosts' too) and the TCP connection to the first.
func (c *Connector) dial(ctx context.Context, chain []endpoint) (*ssh.Client, *flow.Conn, error) {
	conn, err := flow.Dial(ctx, c.cfg.Loop, "tcp", chain[0].addr)
	if err != nil {
		if len(chain) > 1 {
			err = fmt.Errorf("jump host %s: %w", chain[0].name, err)
		}
		return nil, nil, err
	}
	// The deadline makes the handshakes fail at the connect timeout, so
	// the worker they run on is released even though the flow has left.
	// Every hop's bytes cross this first connection, so it bounds them all.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	var (
		mu        sync.Mutex
		abandoned bool
		client    *ssh.Client
	)
	err = c.pool.Run(ctx, func() error {
		var clients []*ssh.Client
		closeAll := func() {
			for i := len(clients) - 1; i >= 0; i-- {
				clients[i].Close()
			}
		}
		var nc net.Conn = conn
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
			clients = append(clients, newClient(sc, chans, reqs))
		}
		last := clients[len(clients)-1]
		if jumps := clients[:len(clients)-1]; len(jumps) > 0 {
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
		client = last
		return nil
	})
	if err != nil {
		mu.Lock()
		abandoned = true
		mu.Unlock()
		conn.Close()
		return nil, nil, classify(err)
	}
	conn.SetDeadline(time.Time{})
	return client, conn, nil
}
