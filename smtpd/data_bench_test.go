package smtpd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

// countSpool commits nothing and keeps nothing, so a benchmark of millions of messages
// measures SMTP, not memory.
type countSpool struct{ n atomic.Int64 }

func (c *countSpool) Commit(_ context.Context, in *store.Inbound) error {
	in.ID = c.n.Add(1)
	return nil
}

// benchBody is a header and body lines of 76 characters up to size bytes, CRLF
// throughout, no line starting with a dot: the bytes sent with DATA and with BDAT are
// the same message.
func benchBody(size int) string {
	var b strings.Builder
	b.WriteString(okHeader)
	line := strings.Repeat("The printer on the third floor is on fire again, please help. ", 2)[:74] + "\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	return b.String()
}

// BenchmarkDataReceive sends messages through a real session over loopback, one
// connection, one transaction per iteration (MAIL, RCPT, then the body), and waits for
// the 250. With DATA, go-smtp reads the body byte by byte through its dot-unstuffing
// reader; with BDAT (go-smtp always offers CHUNKING, and Postfix and Exchange use it
// when offered) it copies each chunk in large reads. The difference is what the
// byte-at-a-time reader costs; both include our own reading (readAll), the checks of
// the message and the client's side of the socket. Authentication is off. No SIZE= is
// sent, so 8 KiB is a message just past readAll's first buffer.
//
// Both modes send the whole transaction in one write and read the replies after it (the
// DATA client does not wait for the 354, which go-smtp tolerates), so both take one
// round trip and ns/op compares the servers' work, not the number of round trips.
// cpu-ns/op is the process's user and system CPU per message, client included: the
// figure that matters on a 2-core box.
func BenchmarkDataReceive(b *testing.B) {
	for _, size := range []int{4 << 10, 8 << 10, 100 << 10} {
		body := benchBody(size)
		for _, mode := range []string{"DATA", "BDAT"} {
			b.Run(fmt.Sprintf("%s/%dKiB", mode, size>>10), func(b *testing.B) {
				addr := startBench(b)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				r := bufio.NewReader(c)
				expect(b, r, "220")
				io.WriteString(c, "EHLO bench.example.org\r\n")
				expect(b, r, "250")
				tx := "MAIL FROM:<alice@example.org>\r\nRCPT TO:<support@example.com>\r\n"
				if mode == "DATA" {
					tx += "DATA\r\n" + body + ".\r\n"
				} else {
					tx += fmt.Sprintf("BDAT %d LAST\r\n", len(body)) + body
				}
				b.SetBytes(int64(len(body)))
				cpu0 := cpuTime(b)
				for b.Loop() {
					io.WriteString(c, tx)
					expect(b, r, "250")
					expect(b, r, "250")
					if mode == "DATA" {
						expect(b, r, "354")
					}
					expect(b, r, "250")
				}
				b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the user and system CPU the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startBench runs a Server with no limits in the way of a benchmark and a spool that
// keeps nothing; it returns the address to dial.
func startBench(b *testing.B) string {
	cfg := testConfig()
	cfg.MaxMessageBytes = 1 << 20
	cfg.MaxCommands, cfg.MaxErrors = 0, 0
	cfg.ReadTimeout, cfg.WriteTimeout = time.Minute, time.Minute
	s := New(cfg, &countSpool{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return l.Addr().String()
}

// expect reads one whole reply and fails unless it starts with code.
func expect(b *testing.B, r *bufio.Reader, code string) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("reading a reply: %v", err)
		}
		if len(line) < 4 || line[3] != '-' {
			if !strings.HasPrefix(line, code) {
				b.Fatalf("reply %q, want %s", strings.TrimSpace(line), code)
			}
			return
		}
	}
}
