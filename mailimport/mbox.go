package mailimport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MboxFormat says how "From " at the start of a body line was quoted when the mbox was
// written. Both write ">From "; they differ in what a line that already began with
// ">From " became.
type MboxFormat int

const (
	// Mboxrd quotes every line matching ^>*From by one more '>' (reversible): reading
	// removes one '>' from each such line. Mutt, Dovecot and Google Takeout write it.
	Mboxrd MboxFormat = iota
	// Mboxo quotes only lines beginning "From ": reading turns ">From " back into
	// "From " and leaves ">>From " alone (a line that was ">From " in the message reads
	// back as "From "; the format cannot tell them apart).
	Mboxo
)

// ParseMboxFormat reads the --format flag's value.
func ParseMboxFormat(s string) (MboxFormat, error) {
	switch s {
	case "mboxrd", "":
		return Mboxrd, nil
	case "mboxo":
		return Mboxo, nil
	}
	return 0, fmt.Errorf("mbox format %q: want mboxrd or mboxo", s)
}

// ErrNotMbox is returned when the input does not begin with a "From " separator line.
var ErrNotMbox = errors.New(`not an mbox file: it does not begin with a "From " line`)

// MboxMessage is one message of an mbox file.
type MboxMessage struct {
	// Offset is where its "From " separator line begins in the file, End where the next
	// one begins (or the file ends): NewMboxReader on that section reads it again.
	Offset, End int64
	// Separator is the "From " line without its line ending: "From sender date".
	Separator string
	// Raw is the message with the separator removed and the quoting undone; nil when
	// the message is larger than the reader's limit (TooLarge).
	Raw      []byte
	TooLarge bool
	// Size is the length of the message as read (quoting undone), also when TooLarge.
	Size int64
}

// MboxReader reads the messages of an mbox one at a time. It accepts LF and CRLF line
// endings (kept as they are), lines of any length, and a last message without a final
// newline (a truncated file). A "From " line separates messages when it begins the file
// or follows an empty line, as every mbox writer puts one there.
type MboxReader struct {
	r      *bufio.Reader
	format MboxFormat
	max    int64
	off    int64  // bytes consumed from r
	next   []byte // the separator line of the next message, already read
	nextAt int64
	begun  bool
	done   bool
}

// NewMboxReader returns a reader of r. maxBytes bounds one message (0: no bound): a
// larger one is still read past, and reported with TooLarge and no Raw.
func NewMboxReader(r io.Reader, format MboxFormat, maxBytes int64) *MboxReader {
	return &MboxReader{r: bufio.NewReaderSize(r, 64<<10), format: format, max: maxBytes}
}

// readChunk returns the next line with its ending, or, for a line longer than the
// buffer, the next part of it (lineEnd false): only a line's first chunk can be a
// separator or quoted. The slice is valid until the next call.
func (m *MboxReader) readChunk() (chunk []byte, lineEnd bool, err error) {
	chunk, err = m.r.ReadSlice('\n')
	m.off += int64(len(chunk))
	if errors.Is(err, bufio.ErrBufferFull) {
		return chunk, false, nil
	}
	if err != nil {
		return chunk, true, err
	}
	return chunk, true, nil
}

func isBlank(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

var fromPrefix = []byte("From ")

// Next returns the next message, or io.EOF after the last.
func (m *MboxReader) Next() (*MboxMessage, error) {
	if m.done {
		return nil, io.EOF
	}
	if !m.begun {
		m.begun = true
		// Blank lines before the first separator are tolerated.
		for {
			start := m.off
			chunk, _, err := m.readChunk()
			if len(chunk) > 0 && !isBlank(chunk) {
				if !bytes.HasPrefix(chunk, fromPrefix) {
					m.done = true
					return nil, ErrNotMbox
				}
				m.next = append([]byte(nil), chunk...)
				// A separator line longer than the buffer: the rest is not the message.
				for len(m.next) > 0 && m.next[len(m.next)-1] != '\n' && err == nil {
					chunk, _, err = m.readChunk()
					m.next = append(m.next, chunk...)
				}
				m.nextAt = start
				if err != nil && !errors.Is(err, io.EOF) {
					return nil, err
				}
				break
			}
			if err != nil {
				m.done = true
				if errors.Is(err, io.EOF) {
					if start == 0 && len(chunk) == 0 {
						return nil, io.EOF // an empty file is an empty mbox
					}
					return nil, ErrNotMbox
				}
				return nil, err
			}
		}
	}
	if m.next == nil {
		m.done = true
		return nil, io.EOF
	}
	msg := &MboxMessage{Offset: m.nextAt, Separator: string(bytes.TrimRight(m.next, "\r\n"))}
	m.next = nil
	var buf bytes.Buffer
	add := func(b []byte) {
		msg.Size += int64(len(b))
		if m.max > 0 && msg.Size > m.max {
			msg.TooLarge = true
			buf = bytes.Buffer{}
			return
		}
		if !msg.TooLarge {
			buf.Write(b)
		}
	}
	prevBlank := false // the previous complete line was empty
	atStart := true    // the next chunk begins a line
	var blank []byte   // an empty line held back: it may be the separator's
	for {
		lineAt := m.off
		chunk, lineEnd, err := m.readChunk()
		if len(chunk) > 0 {
			if atStart && prevBlank && bytes.HasPrefix(chunk, fromPrefix) {
				// The next message: the held-back empty line was the separator's.
				m.next = append([]byte(nil), chunk...)
				m.nextAt = lineAt
				for !lineEnd && err == nil {
					chunk, lineEnd, err = m.readChunk()
					m.next = append(m.next, chunk...)
				}
				msg.End = lineAt
				break
			}
			if blank != nil {
				add(blank)
				blank = nil
			}
			if atStart && lineEnd && isBlank(chunk) {
				blank = append(blank[:0], chunk...)
				prevBlank = true
			} else {
				if atStart {
					chunk = m.unquote(chunk)
				}
				add(chunk)
				if lineEnd {
					prevBlank = false
				}
			}
			atStart = lineEnd
		}
		if err != nil {
			msg.End = m.off
			if !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("mbox: reading the message at offset %d: %w", msg.Offset, err)
			}
			// The file ends: a held-back empty line is the message's last line only if
			// the writer did not add one (mbox writers do), so it is dropped either way.
			break
		}
	}
	if !msg.TooLarge {
		msg.Raw = buf.Bytes()
	}
	return msg, nil
}

// unquote undoes the ">From " quoting of a line's first chunk.
func (m *MboxReader) unquote(line []byte) []byte {
	if len(line) < 6 || line[0] != '>' {
		return line
	}
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	if !bytes.HasPrefix(line[i:], fromPrefix) {
		return line
	}
	if m.format == Mboxo && i != 1 {
		return line
	}
	return line[1:]
}
