// Package tcpproxy is a TCP proxy for tests: it forwards connections to a server until
// the test cuts it, to play the server going away (a broker or a database restarting)
// without touching the real server, which other tests share.
package tcpproxy

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections from Addr to a target.
type Proxy struct {
	Addr   string // where the proxy listens, host:port on loopback
	t      testing.TB
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	// held stops what the server sends from reaching the client until the proxy is cut.
	held atomic.Bool
}

// Start starts a proxy to target; it is cut when the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, target: target, Addr: ln.Addr().String()}
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

// HoldReplies keeps the server's answers (a broker's confirms, say) from the client
// until the proxy is cut.
func (p *Proxy) HoldReplies() { p.held.Store(true) }

// heldReader reads from the server's side, waiting while the proxy holds replies.
type heldReader struct {
	r io.Reader
	p *Proxy
}

func (h heldReader) Read(b []byte) (int, error) {
	n, err := h.r.Read(b)
	for h.p.held.Load() {
		time.Sleep(time.Millisecond)
	}
	return n, err
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // cut meanwhile
				p.mu.Unlock()
				_ = c.Close()
				_ = up.Close()
				return
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, heldReader{up, p}); _ = c.Close() }()
		}
	}()
}

// Cut closes the listener and every forwarded connection: the server is gone.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.held.Store(false)
}

// Restore listens again on the same address: the server is back.
func (p *Proxy) Restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.Addr, err)
	}
	p.serve(ln)
}
