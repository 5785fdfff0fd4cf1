package sshsession

import (
	"golang.org/x/crypto/ssh"
)

// Each goroutine a host holds costs its stack (2 to 8 KiB, grown by the
// deepest call it ever made) and its descriptor, for as long as the host
// is in flight; at a fan-out of hundreds that is most of herd's memory.
// x/crypto/ssh starts about ten per connection and session. Some are its
// own (reading packets, key exchange, the channel multiplexer) and stay;
// the ones below wait on herd's behalf, and herd does with fewer.

// newClient is ssh.NewClient with one goroutine fewer: ssh.NewClient
// serves the server's global requests and its channel opens on a
// goroutine each. herd takes neither (it forwards no ports and no
// agent), so one goroutine refuses both, as ssh.Client would, and
// ssh.NewClient gets channels that are closed already, whose goroutines
// end at once.
func newClient(c ssh.Conn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) *ssh.Client {
	go refuse(chans, reqs)
	return ssh.NewClient(c, noChannels, noRequests)
}

// noChannels and noRequests are closed: ranging over them ends at once.
var (
	noChannels = func() chan ssh.NewChannel { c := make(chan ssh.NewChannel); close(c); return c }()
	noRequests = func() chan *ssh.Request { c := make(chan *ssh.Request); close(c); return c }()
)

// refuse turns down the server's channel opens and global requests (the
// keepalives OpenSSH's ClientAliveInterval sends, say) until the
// connection ends, which closes both channels.
func refuse(chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	for chans != nil || reqs != nil {
		select {
		case nc, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			nc.Reject(ssh.UnknownChannelType, "unknown channel type: "+nc.ChannelType())
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			r.Reply(false, nil) // a no to a request wanting a reply; nothing otherwise
		}
	}
}
