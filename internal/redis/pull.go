package redis

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rdbak/rdbak/backup"
)

// DefaultIdleTimeout is how long PullSource waits without receiving a single
// byte before it gives up. It matches Redis's own repl-timeout default: a
// healthy master sends a keep-alive newline every second while its BGSAVE
// runs, so a minute of silence means the master or the network is stuck.
const DefaultIdleTimeout = 60 * time.Second

// PullSource takes an RDB snapshot of a Redis server over the replication
// protocol, like `redis-cli --rdb`: it authenticates, announces that it can
// take a diskless (EOF-marked) transfer and wants only the RDB, sends SYNC and
// streams the payload. The master starts a fresh BGSAVE for the request, so
// the snapshot always starts after Open is called. With a disk target the
// master also writes that snapshot to its own dir/dbfilename (rdb_saves and
// LASTSAVE advance); with repl-diskless-sync it writes nothing to disk.
//
// The user needs +sync and +replconf when ACLs are in use.
type PullSource struct {
	Addr     string // host:port of the master (or a replica with a live master link)
	Username string // ACL user; empty for the default user
	Password string // AUTH is sent when Username or Password is set
	// TLS, when set, wraps the connection in TLS. An empty ServerName is
	// taken from Addr's host.
	TLS *tls.Config
	// Dial opens the TCP connection; nil means a plain net.Dialer. It lets
	// callers go through a Kubernetes port-forward or a proxy.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// IdleTimeout bounds connecting, each handshake step and every gap
	// between received bytes (keep-alive newlines count), not the whole
	// transfer. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

var _ backup.Source = (*PullSource)(nil)

const (
	// eofMarkLen is RDB_EOF_MARK_SIZE: the length of the random hex mark that
	// frames a diskless payload.
	eofMarkLen = 40
	// maxLine bounds a reply line during the handshake, so a peer that is not
	// Redis cannot make us buffer without limit.
	maxLine = 4096
	// minRDBLen is the magic and version ("REDIS0010"): no RDB is shorter.
	minRDBLen = 9
	// bodyBufSize is the read size of the EOF-mark reader: large enough that
	// bufio hands the reads straight to the connection.
	bodyBufSize = 256 << 10
	// bodyLowWater is the SO_RCVLOWAT set on a plain TCP connection once
	// the payload flows: the kernel wakes the reader when this much has
	// arrived, not for every segment. With repl-diskless-sync the master
	// forwards its fork child's output in 16 KiB writes at the speed the
	// child produces it, so without it every write costs a wake-up of the
	// reading goroutine and of the pipeline behind it.
	bodyLowWater = 128 << 10
	// lowWaterWait bounds how long fewer than bodyLowWater bytes may wait
	// in the socket (the end of the payload, a stalled master): the read
	// is then retried, and a read returns what has arrived.
	lowWaterWait = 20 * time.Millisecond
	// lowWaterTries is how many reads of the payload look for a receive
	// buffer of 4 × bodyLowWater before giving up on the mark. Linux
	// clamps the TCP window to the mark when it has to grow the buffer
	// for it (tcp_set_rcvlowat), which would make the master wait for
	// every read; so the mark is only set once autotuning has grown the
	// buffer beyond it, which a fast transfer does within its first reads.
	lowWaterTries = 256
)

// Open connects, asks for a snapshot and returns once the payload header has
// arrived and the payload starts with the RDB magic. ctx covers the whole
// transfer: cancelling it closes the connection and makes a blocked Read
// return. The caller must close Body. Open may be retried after an error.
func (p *PullSource) Open(ctx context.Context) (*backup.Stream, error) {
	if p.Addr == "" {
		return nil, errors.New("open replication pull: no address")
	}
	idle := p.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	raw, conn, err := p.dial(ctx, idle)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	w := &wire{conn: conn, ctx: ctx, idle: idle}
	br := bufio.NewReaderSize(w, 16<<10)
	r, size, err := p.request(w, br)
	if err != nil {
		stop()
		_ = raw.Close()
		return nil, err
	}
	if raw == conn {
		// The handshake's replies are short: only the payload waits for
		// the low-water mark.
		w.lowWaterTries = lowWaterTries
	}
	return &backup.Stream{
		Body:   &body{r: r, raw: raw, stop: stop, addr: p.Addr},
		Size:   size,
		Origin: "replication " + p.Addr,
	}, nil
}

// dial returns the raw connection (closed to abort) and the one to talk on
// (the same, or TLS over it).
func (p *PullSource) dial(ctx context.Context, idle time.Duration) (raw, conn net.Conn, err error) {
	dctx, cancel := context.WithTimeout(ctx, idle)
	defer cancel()
	dial := p.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	raw, err = dial(dctx, "tcp", p.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", p.Addr, err)
	}
	if p.TLS == nil {
		return raw, raw, nil
	}
	cfg := p.TLS.Clone()
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(p.Addr); err == nil {
			cfg.ServerName = host
		}
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(dctx); err != nil {
		_ = raw.Close()
		return nil, nil, fmt.Errorf("TLS handshake with %s: %w", p.Addr, err)
	}
	return raw, tc, nil
}

// request runs the handshake and reads the payload header. It returns a
// reader of exactly the RDB bytes and the size (-1 for the EOF-marked form).
func (p *PullSource) request(w *wire, br *bufio.Reader) (io.Reader, int64, error) {
	if p.Username != "" || p.Password != "" {
		args := []string{"AUTH"}
		if p.Username != "" {
			args = append(args, p.Username)
		}
		if err := roundTrip(w, br, append(args, p.Password)...); err != nil {
			if errors.Is(err, ErrWrongPass) {
				return nil, 0, fmt.Errorf("authenticate to %s: %w (%s)", p.Addr, err, authHint)
			}
			return nil, 0, fmt.Errorf("authenticate to %s: %w", p.Addr, err)
		}
	}
	// Both REPLCONFs are optional upgrades, as in redis-cli: without
	// "capa eof" the master falls back to the sized disk form, and servers
	// before 6.2 answer "Unrecognized REPLCONF option" to rdb-only and then
	// follow the RDB with the command stream, which the sized and EOF-mark
	// readers never pass on. Only a Redis error reply is forgiven.
	var reply *ReplyError
	for _, opt := range [][]string{{"capa", "eof"}, {"rdb-only", "1"}} {
		err := roundTrip(w, br, append([]string{"REPLCONF"}, opt...)...)
		if err != nil && !errors.As(err, &reply) {
			return nil, 0, fmt.Errorf("send REPLCONF %s to %s: %w", opt[0], p.Addr, err)
		}
	}
	if err := w.send("SYNC"); err != nil {
		return nil, 0, fmt.Errorf("request RDB from %s: %w", p.Addr, err)
	}
	r, size, err := readPayloadHeader(br)
	switch {
	case errors.Is(err, ErrNoAuth):
		return nil, 0, fmt.Errorf("request RDB from %s: %w (%s)", p.Addr, err, authHint)
	case errors.Is(err, ErrNoMasterLink):
		return nil, 0, fmt.Errorf("request RDB from %s: %w (it is a replica that has lost its master, or is failing over: back up its master, or a replica whose master link is up)", p.Addr, err)
	case errors.Is(err, backup.ErrNotAllowed):
		return nil, 0, fmt.Errorf("request RDB from %s: %w (SYNC is renamed, disabled or not permitted: give the ACL user +sync and +replconf, or back up with BGSAVE and the dump file beside Redis, source: file, --source file)", p.Addr, err)
	case err != nil:
		return nil, 0, fmt.Errorf("request RDB from %s: %w", p.Addr, err)
	}
	// Redis writes REDIS, Valkey 9 VALKEY; anything else means the peer is
	// not sending an RDB at all.
	magic, err := br.Peek(6)
	if err != nil {
		return nil, 0, fmt.Errorf("read RDB from %s: %w", p.Addr, unexpectedEOF(err))
	}
	if !bytes.HasPrefix(magic, []byte("REDIS")) && string(magic) != "VALKEY" {
		return nil, 0, fmt.Errorf("read RDB from %s: payload starts with %q, not the RDB magic \"REDIS\" or \"VALKEY\"", p.Addr, magic[:5])
	}
	return r, size, nil
}

// readPayloadHeader skips the keep-alive newlines the master sends while
// its BGSAVE runs, then reads "$<len>" or "$EOF:<mark>".
func readPayloadHeader(br *bufio.Reader) (io.Reader, int64, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return nil, 0, unexpectedEOF(err)
		}
		if b != '\n' {
			_ = br.UnreadByte()
			break
		}
	}
	line, err := readLine(br)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case line[0] == '-':
		return nil, 0, &ReplyError{Msg: string(line[1:])}
	case bytes.HasPrefix(line, []byte("$EOF:")):
		mark := line[len("$EOF:"):]
		if len(mark) != eofMarkLen {
			return nil, 0, fmt.Errorf("bad end-of-RDB mark of %d bytes in %q", len(mark), line)
		}
		return newMarkReader(br, mark), -1, nil
	case line[0] == '$':
		n, err := strconv.ParseInt(string(line[1:]), 10, 64)
		if err != nil || n < minRDBLen {
			return nil, 0, fmt.Errorf("bad payload length in %q", line)
		}
		return &sizedReader{r: br, size: n, left: n}, n, nil
	}
	return nil, 0, fmt.Errorf("unexpected reply %q to SYNC", truncate(line))
}

// roundTrip sends one command and expects a status reply.
func roundTrip(w *wire, br *bufio.Reader, args ...string) error {
	if err := w.send(args...); err != nil {
		return err
	}
	line, err := readLine(br)
	if err != nil {
		return err
	}
	switch line[0] {
	case '+':
		return nil
	case '-':
		return &ReplyError{Msg: string(line[1:])}
	}
	return fmt.Errorf("unexpected reply %q", truncate(line))
}

// readLine returns one non-empty reply line without its CR LF.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine {
		return nil, fmt.Errorf("reply line longer than %d bytes", maxLine)
	}
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	if len(line) == 0 {
		return nil, errors.New("empty reply line")
	}
	return line, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// unexpectedEOF turns the end of the connection in the middle of a reply into
// io.ErrUnexpectedEOF and leaves other errors alone.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("connection closed: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// wire is the connection as seen by the protocol code: every read and write
// gets a fresh idle deadline, and errors caused by ctx report ctx's error.
// Reads set the write deadline too, because a TLS read may have to answer
// the peer (a TLS 1.3 key update) and must not hit a stale write deadline.
type wire struct {
	conn net.Conn
	ctx  context.Context
	idle time.Duration
	// lowWater is set once the connection has SO_RCVLOWAT: a read then
	// waits at most lowWaterWait for the mark before it takes what is
	// there, until idle has passed without a byte.
	lowWater bool
	// lowWaterTries counts down the reads that may still set the mark.
	lowWaterTries int
}

func (w *wire) Read(p []byte) (int, error) {
	start := time.Now()
	idleAt := start.Add(w.idle)
	for {
		deadline := idleAt
		if w.lowWater {
			if d := time.Now().Add(lowWaterWait); d.Before(idleAt) {
				deadline = d
			}
		}
		if err := w.conn.SetDeadline(deadline); err != nil {
			return 0, w.fail(err)
		}
		n, err := w.conn.Read(p)
		if n == 0 && w.lowWater && errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(idleAt) && w.ctx.Err() == nil {
			// Fewer bytes than the low-water mark, or none: the next
			// read returns whatever has arrived without waiting, or waits
			// again.
			continue
		}
		if n > 0 && w.lowWaterTries > 0 {
			w.lowWaterTries--
			if setLowWater(w.conn, bodyLowWater, 4*bodyLowWater) == nil {
				w.lowWater, w.lowWaterTries = true, 0
			}
		}
		return n, w.fail(err)
	}
}

// send writes one command as a RESP array of bulk strings.
func (w *wire) send(args ...string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := w.conn.SetWriteDeadline(time.Now().Add(w.idle)); err != nil {
		return w.fail(err)
	}
	_, err := w.conn.Write(b.Bytes())
	return w.fail(err)
}

func (w *wire) fail(err error) error {
	switch {
	case err == nil:
		return nil
	case w.ctx.Err() != nil:
		return w.ctx.Err()
	case errors.Is(err, io.EOF):
		return io.EOF
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("nothing received for %s (idle timeout): %w", w.idle, err)
	}
	return err
}

// body is a pulled stream's Body.
type body struct {
	r        io.Reader
	raw      net.Conn
	stop     func() bool
	addr     string
	once     sync.Once
	closeErr error
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read RDB from %s: %w", b.addr, err)
	}
	return n, err
}

// Close aborts a transfer still running; the master sees the replica go.
func (b *body) Close() error {
	b.once.Do(func() {
		b.stop()
		if err := b.raw.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			b.closeErr = fmt.Errorf("close connection to %s: %w", b.addr, err)
		}
	})
	return b.closeErr
}
