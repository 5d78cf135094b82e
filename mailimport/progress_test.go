package mailimport

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressIsABarOnATerminalAndLinesElsewhere(t *testing.T) {
	var term, plain bytes.Buffer
	bar := newProgress(&term, true, "importing", 100)
	lines := newProgress(&plain, false, "importing", 100)
	for i := 1; i <= 100; i++ {
		bar.set(i)
		lines.set(i)
	}
	bar.done()
	lines.done()
	if !strings.Contains(term.String(), "\r") {
		t.Errorf("terminal output has no carriage return (no bar): %q", term.String())
	}
	if strings.Contains(plain.String(), "\r") || !strings.Contains(plain.String(), "import: importing 100/100 messages (100%)") {
		t.Errorf("plain output: %q, want one line per report and no escape codes", plain.String())
	}
}
