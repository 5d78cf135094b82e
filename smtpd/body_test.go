package smtpd

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// crlfOnlyByteWise is the obvious check, kept as the reference the fast one must agree with.
func crlfOnlyByteWise(raw []byte) bool {
	for i, c := range raw {
		switch {
		case c == '\r' && (i+1 == len(raw) || raw[i+1] != '\n'):
			return false
		case c == '\n' && (i == 0 || raw[i-1] != '\r'):
			return false
		}
	}
	return true
}

func TestCRLFOnly(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want bool
	}{
		{"empty", "", true},
		{"no line end", "abc", true},
		{"CRLF lines", "a\r\nb\r\n\r\nc\r\n", true},
		{"bare LF", "a\nb\r\n", false},
		{"bare LF first", "\nb\r\n", false},
		{"bare CR", "a\rb\r\n", false},
		{"CR at the end", "a\r\nb\r", false},
		{"CR CR LF", "a\r\r\n", false},
		{"CR LF LF", "a\r\n\n", false},
		{"LF CR", "a\n\rb", false},
		{"smuggling", "hi\r\n.\nMAIL FROM:<x@y>\r\n", false},
	}
	for _, tt := range tests {
		if got := crlfOnly([]byte(tt.raw)); got != tt.want {
			t.Errorf("%s: crlfOnly(%q) = %v, want %v", tt.name, tt.raw, got, tt.want)
		}
		if ref := crlfOnlyByteWise([]byte(tt.raw)); ref != tt.want {
			t.Errorf("%s: the reference says %v for %q, want %v", tt.name, ref, tt.raw, tt.want)
		}
	}
	// Random strings of CR, LF and a letter, long and short: the fast check and the
	// byte-wise one agree on every one.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("\r\nx")
	for i := range 200_000 {
		b := make([]byte, rng.IntN(12))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		if i%2 == 0 { // mostly well-formed, one byte maybe changed
			b = bytes.Repeat([]byte("ab\r\n"), 1+rng.IntN(40))
			if rng.IntN(2) == 0 {
				b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		if got, want := crlfOnly(b), crlfOnlyByteWise(b); got != want {
			t.Fatalf("crlfOnly(%q) = %v, byte-wise %v", b, got, want)
		}
	}
}

// BenchmarkScanMessage is the check every message gets at the end of DATA, on a 4 KiB
// and a 100 KiB message of 76-character lines.
func BenchmarkScanMessage(b *testing.B) {
	for _, size := range []int{4 << 10, 100 << 10} {
		raw := []byte(benchBody(size))
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := scanMessage(raw, defaultMaxHeaderBytes, defaultMaxHeaderFields); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
