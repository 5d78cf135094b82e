package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// envelope is one message to send.
type envelope struct {
	mailFrom string   // "" is the null sender <>
	rcpt     []string // RCPT TO addresses
	// head is prepended to body unchanged (a Message-ID and other unsigned headers),
	// CRLF line ends; body is dot-stuffed with CRLF line ends.
	head []byte
	body []byte
}

// outcome is what the server said about one message.
type outcome struct {
	code    int           // final reply code to the end of DATA, or to the command that failed
	stage   string        // "connect", "greeting", "ehlo", "mail", "rcpt", "data", "dot"
	dataEnd time.Duration // final "." to reply; only when stage is "dot"
	err     error         // network error or unexpected reply
}

func (o outcome) accepted() bool { return o.stage == "dot" && o.code/100 == 2 }

// temporary reports whether an MTA would try the message again.
func (o outcome) temporary() bool { return !o.accepted() && o.code/100 != 5 }

var errReply = errors.New("unexpected reply")

// sendOne delivers env over a new connection, like smtp-source without -d.
func sendOne(addr, helo string, env envelope, timeout time.Duration) (o outcome) {
	o.stage = "connect"
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		o.err = err
		return o
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReaderSize(c, 4096)
	w := bufio.NewWriterSize(c, 64*1024)
	cmd := func(stage, line string, want int) bool {
		o.stage = stage
		if line != "" {
			if _, err := w.WriteString(line + "\r\n"); err != nil {
				o.err = err
				return false
			}
			if err := w.Flush(); err != nil {
				o.err = err
				return false
			}
		}
		code, msg, err := readReply(r)
		o.code = code
		if err != nil {
			o.err = err
			return false
		}
		if code != want {
			o.err = fmt.Errorf("%w to %s: %d %s", errReply, stage, code, msg)
			return false
		}
		return true
	}
	if !cmd("greeting", "", 220) || !cmd("ehlo", "EHLO "+helo, 250) ||
		!cmd("mail", "MAIL FROM:<"+env.mailFrom+">", 250) {
		return o
	}
	for _, rc := range env.rcpt {
		if !cmd("rcpt", "RCPT TO:<"+rc+">", 250) {
			return o
		}
	}
	if !cmd("data", "DATA", 354) {
		return o
	}
	o.stage = "dot"
	if _, err := w.Write(env.head); err != nil {
		o.err = err
		return o
	}
	if _, err := w.Write(env.body); err != nil {
		o.err = err
		return o
	}
	if _, err := w.WriteString(".\r\n"); err != nil {
		o.err = err
		return o
	}
	if err := w.Flush(); err != nil {
		o.err = err
		return o
	}
	start := time.Now()
	code, msg, err := readReply(r)
	o.dataEnd = time.Since(start)
	o.code = code
	if err != nil {
		o.err = err
		return o
	}
	if code/100 != 2 {
		o.err = fmt.Errorf("%w to end of data: %d %s", errReply, code, msg)
		return o
	}
	// The message is the server's now; QUIT is a courtesy, as in smtp-source.
	_, _ = w.WriteString("QUIT\r\n")
	_ = w.Flush()
	_, _, _ = readReply(r)
	return o
}

// readReply reads one (possibly multi-line) SMTP reply.
func readReply(r *bufio.Reader) (int, string, error) {
	var msg strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, msg.String(), err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			return 0, line, fmt.Errorf("%w: short line %q", errReply, line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return 0, line, fmt.Errorf("%w: %q", errReply, line)
		}
		if msg.Len() > 0 {
			msg.WriteByte(' ')
		}
		if len(line) > 4 {
			msg.WriteString(line[4:])
		}
		if len(line) == 3 || line[3] == ' ' {
			return code, msg.String(), nil
		}
	}
}
