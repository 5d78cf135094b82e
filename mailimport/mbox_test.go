package mailimport

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// readAll reads every message of an mbox, failing the test on an error.
func readAll(t testing.TB, data string, format MboxFormat, max int64) []*MboxMessage {
	t.Helper()
	r := NewMboxReader(strings.NewReader(data), format, max)
	var out []*MboxMessage
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, m)
	}
}

// writeMboxrd writes messages as an mboxrd file, the way mutt and Dovecot do: the
// separator line, the message with ^>*From quoted, an empty line.
func writeMboxrd(w io.Writer, msgs [][]byte) {
	for _, m := range msgs {
		io.WriteString(w, "From sender@example.org Mon Jan  2 15:04:05 2006\n")
		for _, line := range bytes.SplitAfter(m, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
				w.Write([]byte(">"))
			}
			w.Write(line)
		}
		if len(m) > 0 && m[len(m)-1] != '\n' {
			io.WriteString(w, "\n")
		}
		io.WriteString(w, "\n")
	}
}

func TestMboxReaderSplitsAndUnquotes(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // a 200 KiB line: past bufio.Scanner's limit
	tests := []struct {
		name   string
		in     string
		format MboxFormat
		want   []string
	}{
		{"two messages, LF", "From a@b Mon Jan 1 00:00:00 2024\nSubject: 1\n\nbody 1\n\nFrom c@d Tue Jan 2 00:00:00 2024\nSubject: 2\n\nbody 2\n\n",
			Mboxrd, []string{"Subject: 1\n\nbody 1\n", "Subject: 2\n\nbody 2\n"}},
		{"CRLF kept", "From a@b x\r\nSubject: 1\r\n\r\nbody\r\n\r\nFrom c@d y\r\nSubject: 2\r\n\r\nb2\r\n\r\n",
			Mboxrd, []string{"Subject: 1\r\n\r\nbody\r\n", "Subject: 2\r\n\r\nb2\r\n"}},
		{"From inside a line and not after a blank line is body", "From a@b x\nSubject: 1\n\nline\nFrom here on\n\n",
			Mboxrd, []string{"Subject: 1\n\nline\nFrom here on\n"}},
		{"mboxrd unquotes one level", "From a@b x\nS: 1\n\n>From me\n>>From you\n>Fromage\n\n",
			Mboxrd, []string{"S: 1\n\nFrom me\n>From you\n>Fromage\n"}},
		{"mboxo unquotes only >From", "From a@b x\nS: 1\n\n>From me\n>>From you\n\n",
			Mboxo, []string{"S: 1\n\nFrom me\n>>From you\n"}},
		{"truncated: no final newline", "From a@b x\nS: 1\n\nbody cut he",
			Mboxrd, []string{"S: 1\n\nbody cut he"}},
		{"blank lines inside a message stay", "From a@b x\nS: 1\n\n\n\nend\n\n\nFrom c@d y\nS: 2\n\n",
			Mboxrd, []string{"S: 1\n\n\n\nend\n\n", "S: 2\n"}},
		{"leading blank lines tolerated", "\n\nFrom a@b x\nS: 1\n\nb\n",
			Mboxrd, []string{"S: 1\n\nb\n"}},
		{"a line longer than 64 KiB", "From a@b x\nS: 1\n\n" + long + "\n\nFrom c@d y\nS: 2\n\n",
			Mboxrd, []string{"S: 1\n\n" + long + "\n", "S: 2\n"}},
		{"empty file", "", Mboxrd, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, tt.in, tt.format, 0)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d messages, want %d", len(got), len(tt.want))
			}
			for i, m := range got {
				if string(m.Raw) != tt.want[i] {
					t.Errorf("message %d:\n got %.80q\nwant %.80q", i, m.Raw, tt.want[i])
				}
			}
		})
	}
}

func TestMboxReaderOffsetsReadTheMessageAgain(t *testing.T) {
	in := "From a@b x\nS: 1\n\nbody 1\n\nFrom c@d y\nS: 2\n\n>From quoted\n\nFrom e@f z\nS: 3\n\n"
	for _, m := range readAll(t, in, Mboxrd, 0) {
		again := readAll(t, in[m.Offset:m.End], Mboxrd, 0)
		if len(again) != 1 || !bytes.Equal(again[0].Raw, m.Raw) {
			t.Errorf("section %d-%d read %d messages, want the one at that offset", m.Offset, m.End, len(again))
		}
		if !strings.HasPrefix(in[m.Offset:], "From ") {
			t.Errorf("offset %d is not at a separator", m.Offset)
		}
	}
}

func TestMboxReaderRefusesAFileWithoutSeparator(t *testing.T) {
	r := NewMboxReader(strings.NewReader("Subject: an .eml file\n\nbody\n"), Mboxrd, 0)
	if _, err := r.Next(); !errors.Is(err, ErrNotMbox) {
		t.Fatalf("Next = %v, want ErrNotMbox", err)
	}
}

func TestMboxReaderReportsTooLargeAndGoesOn(t *testing.T) {
	in := "From a@b x\nS: 1\n\n" + strings.Repeat("y", 5000) + "\n\nFrom c@d y\nS: 2\n\nsmall\n\n"
	got := readAll(t, in, Mboxrd, 1000)
	if len(got) != 2 {
		t.Fatalf("got %d messages, want 2", len(got))
	}
	if !got[0].TooLarge || got[0].Raw != nil || got[0].Size < 5000 {
		t.Errorf("first: TooLarge=%v raw=%d size=%d, want TooLarge, no raw, size >= 5000", got[0].TooLarge, len(got[0].Raw), got[0].Size)
	}
	if got[1].TooLarge || string(got[1].Raw) != "S: 2\n\nsmall\n" {
		t.Errorf("second: %q", got[1].Raw)
	}
}

// FuzzMboxRoundTrip writes messages as mboxrd and reads them back: every message must
// come back byte for byte (with a final newline, as a writer adds one), whatever it
// contains, and the reader must never panic on the bytes it is given raw.
func FuzzMboxRoundTrip(f *testing.F) {
	f.Add([]byte("Subject: hi\n\nFrom me\n>From you\n"), []byte("S: 2\r\n\r\nx\r\n"))
	f.Add([]byte("\n\nFrom \n"), []byte(""))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		// The raw bytes as an mbox: any answer but a panic is fine.
		r := NewMboxReader(bytes.NewReader(a), Mboxrd, 1<<20)
		for i := 0; i < 1000; i++ {
			if _, err := r.Next(); err != nil {
				break
			}
		}
		var msgs [][]byte
		for _, m := range [][]byte{a, b} {
			// A message that is empty or ends in an empty line cannot round-trip: the
			// separator's empty line is indistinguishable from its own.
			m = bytes.TrimRight(m, "\r\n")
			if len(m) == 0 {
				continue
			}
			msgs = append(msgs, append(m, '\n'))
		}
		var buf bytes.Buffer
		writeMboxrd(&buf, msgs)
		got := readAll(t, buf.String(), Mboxrd, 0)
		if len(got) != len(msgs) {
			t.Fatalf("wrote %d messages, read %d:\n%q", len(msgs), len(got), buf.String())
		}
		for i := range msgs {
			if !bytes.Equal(got[i].Raw, msgs[i]) {
				t.Fatalf("message %d:\n got %q\nwant %q", i, got[i].Raw, msgs[i])
			}
		}
	})
}
