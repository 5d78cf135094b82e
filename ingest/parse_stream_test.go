package ingest

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

// toCRLF makes a corpus message look as smtpd stores it: no mbox line, CRLF endings.
func toCRLF(raw []byte) []byte {
	raw = stripMboxFrom(bareCRToLF(raw))
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
}

// ParseStream (large messages, read from the database a chunk at a time) must read every
// message exactly as Parse does.
func TestParseStreamReadsWhatParseReads(t *testing.T) {
	needCorpus(t)
	p := NewParser()
	n := 0
	for _, m := range corpusMessages(t) {
		raw := toCRLF(m.Raw)
		want := p.Parse(raw)
		got := p.ParseStream(func() (io.Reader, error) { return iotest.HalfReader(bytes.NewReader(raw)), nil })
		want.Header, got.Header = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ParseStream differs from Parse:\n got %+v\nwant %+v", m.Name, got, want)
		}
		n++
	}
	if n < 500 {
		t.Errorf("compared %d corpus messages, want the whole corpus", n)
	}
	t.Run("a reader that fails is reported, and the message kept as far as it reads", func(t *testing.T) {
		calls := 0
		pm := p.ParseStream(func() (io.Reader, error) {
			calls++
			return io.MultiReader(bytes.NewReader([]byte(crlf(plainMessage))[:40]), iotest.ErrReader(errors.New("disk on fire"))), nil
		})
		if calls != 2 || len(pm.Errors) == 0 || !bytes.Contains([]byte(pm.Errors[0]), []byte("disk on fire")) {
			t.Errorf("calls %d, errors %q", calls, pm.Errors)
		}
	})
}
