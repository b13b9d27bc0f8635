package redis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc64"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
)

// jonesTable is Redis's CRC-64/Jones (reflected polynomial 0xad93d23594c935a9,
// init 0, no final xor). Go's crc64 inverts the state before and after each
// update, so the state is passed in and taken out inverted.
var jonesTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

func crc64Jones(b []byte) uint64 {
	return ^crc64.Update(^uint64(0), jonesTable, b)
}

func TestCRC64Jones(t *testing.T) {
	// The check value from Redis's src/crc64.c test.
	if got, want := crc64Jones([]byte("123456789")), uint64(0xe9c6d914c4b8d9ca); got != want {
		t.Fatalf("crc64Jones = %#x, want %#x", got, want)
	}
}

// checkRDB fails t unless b looks like a whole RDB file: the magic, the EOF
// opcode before the 8-byte trailer, and a trailer that is the CRC-64 of
// everything before it.
func checkRDB(t *testing.T, b []byte) {
	t.Helper()
	if len(b) < 18 || !bytes.HasPrefix(b, []byte("REDIS")) {
		t.Fatalf("RDB of %d bytes does not start with REDIS: %q", len(b), b[:min(len(b), 9)])
	}
	body, sum := b[:len(b)-8], binary.LittleEndian.Uint64(b[len(b)-8:])
	if body[len(body)-1] != 0xff {
		t.Fatalf("RDB does not end with the EOF opcode: last byte before checksum is %#x", body[len(body)-1])
	}
	if got := crc64Jones(body); got != sum {
		t.Fatalf("RDB checksum %#x, trailer says %#x", got, sum)
	}
}

// loadDigest starts a fresh redis-server on rdb and returns its DEBUG DIGEST.
func loadDigest(t *testing.T, rdb []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), rdb, 0o600); err != nil {
		t.Fatal(err)
	}
	return testenv.StartRedis(t, testenv.RedisOptions{Dir: dir}).Digest(t)
}

// proxy forwards loopback TCP connections to target. After limit bytes from
// the target it either cuts both connections or, with stall, stops
// forwarding and holds them open until the test ends.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string, limit int64, stall bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(p.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.track(c, s)
			go func() { _, _ = io.Copy(s, c) }()
			go func() {
				_, _ = io.CopyN(c, s, limit)
				if !stall {
					_ = c.Close()
					_ = s.Close()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func (p *proxy) track(c ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c...)
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

// fakeMaster serves one connection with a scripted master: reply maps a
// command name to its reply line, and after SYNC it calls payload.
func fakeMaster(t *testing.T, reply map[string]string, payload func(w io.Writer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			args, err := readCommand(br)
			if err != nil {
				return
			}
			name := strings.ToUpper(args[0])
			if name == "SYNC" {
				payload(c)
				return
			}
			r, ok := reply[name]
			if !ok {
				r = "-ERR unexpected " + name
			}
			if _, err := io.WriteString(c, r+"\r\n"); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

// readCommand reads one RESP array of bulk strings.
func readCommand(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil {
		return nil, fmt.Errorf("bad array header %q", line)
	}
	args := make([]string, n)
	for i := range args {
		if line, err = br.ReadString('\n'); err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil {
			return nil, fmt.Errorf("bad bulk header %q", line)
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

// pullAll opens src and reads the whole stream.
func pullAll(t *testing.T, ctx context.Context, src *PullSource) ([]byte, int64) {
	t.Helper()
	s, err := src.Open(ctx)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Body.Close()
	b, err := io.ReadAll(s.Body)
	if err != nil {
		t.Fatalf("read after %d bytes: %v", len(b), err)
	}
	if want := "replication " + src.Addr; s.Origin != want {
		t.Errorf("Origin = %q, want %q", s.Origin, want)
	}
	return b, s.Size
}

// waitFor polls cond until it is true, failing t after a generous limit. It
// only waits for Redis to finish background work; it asserts no timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
