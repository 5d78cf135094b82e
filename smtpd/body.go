package smtpd

import (
	"bytes"
	"fmt"
)

// Limits on the header block. Real mail with long DKIM/ARC chains stays far below them;
// a header block of megabytes or tens of thousands of fields is an attack on whatever
// parses it next (enmime keeps every field in memory).
const (
	defaultMaxHeaderBytes  = 256 << 10
	defaultMaxHeaderFields = 1000
	// maxReceived is where a message is taken to be looping (RFC 5321 6.3: "a simple
	// counting of the number of Received: header fields"; Postfix's hopcount_limit is 50,
	// common MTAs use 50–100, docs/pitfalls.md 19).
	maxReceived = 100
)

// scanMessage checks what streaming could not: line endings and the header block.
//
// SMTP smuggling (CVE-2023-51766 and kin): an MTA that ends DATA on "\n.\n" or "\r.\r"
// hands on a second message hidden in the first. go-smtp ends DATA only on
// "\r\n.\r\n", so nothing is split here, but a message carrying a bare LF or a bare CR
// would be split by the next MTA to read it (a relay, a forward). mxdesk refuses such a
// message whole, as mox does, rather than normalizing it: a CRLF-speaking sender never
// produces one, and the bytes stored are the bytes sent.
func scanMessage(raw []byte, maxHeaderBytes, maxHeaderFields int) error {
	if !crlfOnly(raw) {
		return errBareNewline
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		end = 0
	}
	if end < 0 {
		end = len(raw) // a message that is all header
	}
	if end > maxHeaderBytes {
		return errHeaderTooLarge(fmt.Sprintf("Message header exceeds %d bytes", maxHeaderBytes))
	}
	fields, received := 0, 0
	for line := range bytes.SplitSeq(raw[:end], []byte("\r\n")) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		fields++
		if len(line) >= 9 && bytes.EqualFold(line[:9], []byte("received:")) {
			received++
		}
	}
	if received > maxReceived {
		return errLoop
	}
	if fields > maxHeaderFields {
		return errHeaderTooLarge(fmt.Sprintf("Message header has more than %d fields", maxHeaderFields))
	}
	return nil
}

// crlfOnly reports whether every CR in raw is followed by LF and every LF preceded by CR.
// It runs over every byte of every message, so it leaves the scanning to
// bytes.IndexByte and bytes.Count, which use vector instructions (bytes.IndexAny with
// "\r\n" goes byte by byte, four times slower in BenchmarkScanMessage): when every LF
// has a CR before it, as many CRs as LFs means there is no other CR.
func crlfOnly(raw []byte) bool {
	lf := 0
	for i := 0; ; lf++ {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			break
		}
		j += i
		if j == 0 || raw[j-1] != '\r' {
			return false
		}
		i = j + 1
	}
	return bytes.Count(raw, []byte{'\r'}) == lf
}
