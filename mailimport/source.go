package mailimport

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// Source kinds.
const (
	KindMbox    = "mbox"
	KindMaildir = "maildir"
	KindEML     = "eml"
)

// entry is what the first pass keeps of a message: enough to sort it by date, to know
// whether an earlier run stored it, and to read it again. About a hundred bytes, so a
// mailbox of a million messages indexes in ~100 MB, whatever its size on disk.
type entry struct {
	seq      int
	date     time.Time
	off, end int64  // mbox: the message's section of the file
	path     string // Maildir and .eml: its file
	sum      string // SHA-256 of the raw message, hex
	retry    bool   // an earlier run kept it as failed
}

// source reads one mailbox: an index pass, then messages by entry.
type source struct {
	kind   string
	path   string
	format MboxFormat
	max    int64
	mbox   *os.File
}

func openSource(kind, path string, format MboxFormat, maxBytes int64) (*source, error) {
	s := &source{kind: kind, path: path, format: format, max: maxBytes}
	switch kind {
	case KindMbox:
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("mbox: %w", err)
		}
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			f.Close()
			return nil, fmt.Errorf("mbox: %s is a directory (import maildir or import eml?)", path)
		}
		s.mbox = f
	case KindMaildir, KindEML:
	default:
		return nil, fmt.Errorf("unknown source kind %q: want mbox, maildir or eml", kind)
	}
	return s, nil
}

func (s *source) Close() error {
	if s.mbox != nil {
		return s.mbox.Close()
	}
	return nil
}

// skip is a message the import passes over, and why.
type skip struct {
	where, why string
}

// index reads every message once, keeping an entry per message. It streams: one
// message in memory at a time.
func (s *source) index(each func(n int)) ([]entry, []skip, error) {
	var entries []entry
	var skips []skip
	var last time.Time
	add := func(e entry, raw []byte, fallback time.Time) {
		e.seq = len(entries) + len(skips)
		sum := sha256.Sum256(raw)
		e.sum = hex.EncodeToString(sum[:])
		e.date = headerDate(raw)
		if e.date.IsZero() {
			e.date = fallback
		}
		if e.date.IsZero() {
			e.date = last // keeps its place among its neighbours
		}
		last = e.date
		entries = append(entries, e)
		if each != nil {
			each(len(entries) + len(skips))
		}
	}
	if s.kind == KindMbox {
		r := NewMboxReader(s.mbox, s.format, s.max)
		for {
			m, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, ErrNotMbox) {
				return nil, nil, fmt.Errorf("mbox %s: %w (a single message? use import eml on its directory)", s.path, err)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("mbox %s: %w", s.path, err)
			}
			where := fmt.Sprintf("%s@%d", s.path, m.Offset)
			if m.TooLarge {
				skips = append(skips, skip{where, fmt.Sprintf("larger than smtp.max_message_bytes (%d bytes)", s.max)})
				continue
			}
			add(entry{off: m.Offset, end: m.End}, m.Raw, separatorDate(m.Separator))
		}
		return entries, skips, nil
	}
	var files []string
	var err error
	if s.kind == KindMaildir {
		files, err = MaildirFiles(s.path)
	} else {
		files, err = EMLFiles(s.path)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, f := range files {
		raw, mtime, why, err := s.readFile(f)
		if err != nil {
			return nil, nil, err
		}
		if why != "" {
			skips = append(skips, skip{f, why})
			continue
		}
		add(entry{path: f}, stripSeparator(raw), mtime)
	}
	return entries, skips, nil
}

// readFile reads one message file; why says why it is skipped instead.
func (s *source) readFile(path string) (raw []byte, mtime time.Time, why string, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, "the file vanished before it was read (moved by a mail client?)", nil
	}
	if err != nil {
		return nil, time.Time{}, "", fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, "", fmt.Errorf("%s: %w", path, err)
	}
	if s.max > 0 && fi.Size() > s.max {
		return nil, time.Time{}, fmt.Sprintf("larger than smtp.max_message_bytes (%d bytes)", s.max), nil
	}
	raw, err = io.ReadAll(f)
	if err != nil {
		return nil, time.Time{}, "", fmt.Errorf("%s: %w", path, err)
	}
	return raw, fi.ModTime(), "", nil
}

// read returns an entry's raw message again; why says why it cannot (the file is gone).
func (s *source) read(e *entry) (raw []byte, why string, err error) {
	if s.kind == KindMbox {
		r := NewMboxReader(io.NewSectionReader(s.mbox, e.off, e.end-e.off), s.format, 0)
		m, err := r.Next()
		if err != nil {
			return nil, "", fmt.Errorf("mbox %s@%d: the file changed since it was indexed: %w", s.path, e.off, err)
		}
		return m.Raw, "", nil
	}
	raw, _, why, err = s.readFile(e.path)
	if why != "" || err != nil {
		return nil, why, err
	}
	return stripSeparator(raw), "", nil
}

func (s *source) where(e *entry) string {
	if s.kind == KindMbox {
		return fmt.Sprintf("%s@%d", s.path, e.off)
	}
	return e.path
}

// stripSeparator drops an mbox "From " line a saved .eml file sometimes begins with.
func stripSeparator(raw []byte) []byte {
	if bytes.HasPrefix(raw, fromPrefix) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			return raw[i+1:]
		}
	}
	return raw
}

// headerDate is the message's Date header, or zero.
func headerDate(raw []byte) time.Time {
	end := bytes.Index(raw, []byte("\n\n"))
	if crlf := bytes.Index(raw, []byte("\r\n\r\n")); crlf >= 0 && (end < 0 || crlf < end) {
		end = crlf
	}
	if end < 0 {
		end = len(raw)
	}
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(raw[:end:end], "\r\n\r\n"...)))).ReadMIMEHeader()
	d, err := mail.ParseDate(h.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return d
}

// separatorDate is the date of an mbox "From sender Mon Jan  2 15:04:05 2006" line.
func separatorDate(sep string) time.Time {
	f := strings.Fields(sep)
	if len(f) < 3 {
		return time.Time{}
	}
	for _, layout := range []string{time.ANSIC, "Mon Jan _2 15:04:05 -0700 2006", "Mon Jan _2 15:04:05 MST 2006"} {
		if t, err := time.Parse(layout, strings.Join(f[2:], " ")); err == nil {
			return t
		}
	}
	return time.Time{}
}
