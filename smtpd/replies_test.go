package smtpd

import (
	"log/slog"
	"net"
	"strings"
	"testing"
)

// writesConn records each Write that reaches the socket.
type writesConn struct {
	net.Conn
	writes []string
}

func (w *writesConn) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *writesConn) Close() error { return nil }

func TestRepliesLeaveInOneWrite(t *testing.T) {
	tlsRecord := "\x16\x03\x03\x00\x05hello"
	long := "250-" + strings.Repeat("x", 900) + "\r\n" // four fit in 4 KiB, the fifth is written with them
	tests := []struct {
		name      string
		encrypted bool
		lines     []string
		want      []string
	}{
		{"one-line reply", false, []string{"250 2.0.0 OK\r\n"}, []string{"250 2.0.0 OK\r\n"}},
		{"EHLO reply", false,
			[]string{"250-mx.example.com\r\n", "250-PIPELINING\r\n", "250-8BITMIME\r\n", "250 SIZE 26214400\r\n"},
			[]string{"250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 26214400\r\n"}},
		{"a held line goes before a TLS record", false,
			[]string{"250-a\r\n", tlsRecord}, []string{"250-a\r\n" + tlsRecord}},
		{"encrypted: records pass as written", true,
			[]string{tlsRecord, tlsRecord}, []string{tlsRecord, tlsRecord}},
		{"not a reply line: written at once", false,
			[]string{"abc-def\r\n", "250 x\r\n"}, []string{"abc-def\r\n", "250 x\r\n"}},
		{"no CRLF: written at once", false,
			[]string{"250-partial", "250 x\r\n"}, []string{"250-partial", "250 x\r\n"}},
		{"a huge reply is not held past 4 KiB", false,
			append(slicesRepeat(long, 5), "250 end\r\n"),
			[]string{strings.Repeat(long, 5), "250 end\r\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &writesConn{}
			c := &limitConn{Conn: w, s: &Server{log: slog.New(slog.DiscardHandler)}, encrypted: tc.encrypted}
			for _, l := range tc.lines {
				if n, err := c.Write([]byte(l)); n != len(l) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", l, n, err)
				}
			}
			if strings.Join(w.writes, "|") != strings.Join(tc.want, "|") {
				t.Errorf("writes:\n%q\nwant:\n%q", w.writes, tc.want)
			}
			if c.replies != 1 && !tc.encrypted && tc.name != "not a reply line: written at once" && tc.name != "no CRLF: written at once" {
				t.Errorf("%d replies counted, want 1", c.replies)
			}
		})
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
