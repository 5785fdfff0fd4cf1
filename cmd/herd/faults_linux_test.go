package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/internal/proctest"
)

// TestLabFaults: one bad host among good ones ends in its own class while
// the good ones finish normally.
func TestLabFaults(t *testing.T) {
	rl := needLab(t)
	const good = "127.0.0.[2-4]"
	// herd run over the good hosts and bad, which must end as class.
	check := func(t *testing.T, code int, errOut, bad, class, why string) {
		t.Helper()
		if code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
		wantSummary(t, errOut, map[string]string{"ok": good, class: bad})
		if !strings.Contains(errOut, bad+"! "+class+": ") || !strings.Contains(errOut, why) {
			t.Errorf("no %q for %s in\n%s", why, bad, errOut)
		}
	}

	t.Run("dropped-packets", func(t *testing.T) {
		const bad = "127.0.0.250"
		dropTo(t, bad, rl.port)
		code, _, errOut := rl.run(t, "--connect-timeout", "2s", "--retries", "0", good+","+bad, "--", "echo hi")
		check(t, code, errOut, bad, "unreachable", "connect timeout after 2s")
	})

	t.Run("slow", func(t *testing.T) {
		// 150 ms each way: a host 300 ms away still works.
		proxy := delayProxy(t, "127.0.0.251:0", "127.0.0.1:"+strconv.Itoa(rl.port), 150*time.Millisecond)
		_, port, _ := net.SplitHostPort(proxy.addr)
		known := rl.knownHostsWith(t, fmt.Sprintf("[127.0.0.251]:%s", port))
		code, out, errOut := herd(t, "", append(append([]string{"run", "--json"}, rl.flags(known)...), good+","+proxy.addr, "--", "echo $SSH_CONNECTION")...)
		if code != 0 {
			t.Errorf("exit %d, want 0; stderr:\n%s", code, errOut)
		}
		recs := jsonRecords(t, out)
		if r := recs[proxy.addr]; r.Class.String() != "ok" || !strings.Contains(r.Stdout, " 127.0.0.1 ") {
			t.Errorf("the slow host: %+v", r)
		}
		if len(recs) != 4 || proxy.conns.Load() == 0 {
			t.Errorf("%d records, %d connections through the proxy:\n%s", len(recs), proxy.conns.Load(), out)
		}
	})

	// Only the watchdog (--guard) kills a command whose session died: by
	// default herd kills through the connection, which is gone.
	t.Run("session-killed", func(t *testing.T) {
		rl.forLogins(t, func(t *testing.T, login string) {
			const bad = "127.0.0.6"
			mark := proctest.NewMark()
			t.Cleanup(func() { proctest.Kill(mark) })
			cmd := `case " $SSH_CONNECTION " in *" ` + bad + ` "*) ` + markedHang(mark) + `;; esac; echo fine`
			type result struct {
				code   int
				errOut string
			}
			done := make(chan result, 1)
			go func() {
				code, _, errOut := rl.runAs(t, login, "--guard", good+","+bad, "--", cmd)
				done <- result{code, errOut}
			}()
			pids := proctest.WaitCount(t, mark, 3, time.Minute)
			session := sshdAncestor(t, pids[0])
			if err := syscall.Kill(session, syscall.SIGKILL); err != nil {
				t.Fatalf("killing the session's sshd %d: %v", session, err)
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(time.Minute): // a guard against a hang, not a measure
				t.Fatal("herd hangs on the host whose sshd died")
			}
			check(t, r.code, r.errOut, bad, "error", "connection lost")
			if err := proctest.WaitGone(mark, 20*time.Second); err != nil {
				t.Error("after its session died, the command is", err)
			}
		})
	})

	t.Run("key-refused", func(t *testing.T) {
		code, _, errOut := rl.run(t, good+","+rl.deny, "--", "echo hi")
		check(t, code, errOut, rl.deny, "auth", "unable to authenticate")
	})
}

// dropTo makes the kernel drop TCP segments to addr:port, with nftables,
// until the test ends; it skips the test where nft cannot.
func dropTo(t *testing.T, addr string, port int) {
	t.Helper()
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("no nft (Debian: apt-get install nftables): the host that drops packets needs an nftables rule")
	}
	table := fmt.Sprintf("herdlab_%d_%s", os.Getpid(), proctest.NewMark()[:6])
	rules := fmt.Sprintf(`table inet %s {
	chain input {
		type filter hook input priority -10; policy accept;
		ip daddr %s tcp dport %d drop
	}
}
`, table, addr, port)
	cmd := exec.Command(nft, "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("nft cannot add a rule here (it needs CAP_NET_ADMIN): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(nft, "delete", "table", "inet", table).CombinedOutput(); err != nil {
			t.Errorf("removing nftables table %s: %v\n%s", table, err, out)
		}
	})
}

// proxy is a TCP relay that delays every byte by a fixed time each way.
type proxy struct {
	addr  string
	conns atomic.Int32
}

func delayProxy(t *testing.T, listen, target string, delay time.Duration) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{})
				go func() {
					delayCopy(up, c, delay)
					close(done)
				}()
				delayCopy(c, up, delay)
				<-done
			}()
		}
	}()
	return p
}

// delayCopy copies src to dst, each chunk delay after it was read, and
// passes src's end on to dst.
func delayCopy(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		data []byte
		at   time.Time
	}
	chunks := make(chan chunk, 256)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{buf[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.data); err != nil {
			src.Close() // ends the reader
			for range chunks {
			}
			return
		}
	}
	dst.(*net.TCPConn).CloseWrite()
}
