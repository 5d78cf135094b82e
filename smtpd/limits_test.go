package smtpd

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestBodyReadTimeoutClosesTheConnection checks limitConn.Read on its own: a read of a
// message body that times out (idle, or past the body's whole time) closes the
// connection, so nothing after it can be read as commands; a timeout between commands
// is go-smtp's to answer (421) and leaves the connection alone.
func TestBodyReadTimeoutClosesTheConnection(t *testing.T) {
	tests := []struct {
		name      string
		inData    bool
		dataStart time.Duration // before now
		closed    bool
	}{
		{"body, idle timeout", true, 0, true},
		{"body, past the body's whole time", true, time.Hour, true},
		{"between commands", false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, client := net.Pipe()
			defer client.Close()
			s := &Server{cfg: Config{ReadTimeout: 20 * time.Millisecond}, log: slog.New(slog.DiscardHandler)}
			s.conns.Add(1)
			c := &limitConn{Conn: server, s: s, dataStart: time.Now().Add(-tt.dataStart)}
			c.inData.Store(tt.inData)
			if !tt.inData {
				server.SetReadDeadline(time.Now().Add(20 * time.Millisecond)) // go-smtp's own
			}
			var ne net.Error
			if _, err := c.Read(make([]byte, 64)); !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("read with nothing sent: %v, want a timeout", err)
			}
			server.SetReadDeadline(time.Time{})
			go client.Write([]byte("NOOP\r\n"))
			_, err := server.Read(make([]byte, 64))
			if closed := errors.Is(err, io.ErrClosedPipe); closed != tt.closed {
				t.Errorf("after the timeout: read %v; closed %v, want %v", err, closed, tt.closed)
			}
			if n := s.conns.Load(); (n == 0) != tt.closed {
				t.Errorf("open connections %d after the timeout; closed want %v", n, tt.closed)
			}
		})
	}
}
