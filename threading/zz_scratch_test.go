package threading

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestScratchOne(t *testing.T) {
	b, _ := os.ReadFile("/tmp/fuzzkeep/8b556306af6a2dd3")
	s := strings.TrimSpace(string(b))
	i := strings.Index(s, "string(")
	v, err := strconv.Unquote(s[i+7 : len(s)-1])
	if err != nil { t.Fatal(err) }
	st := time.Now()
	out := StripText(v)
	t.Log(time.Since(st), len(v), len(out), strings.TrimSpace(v) != "", strings.TrimSpace(out) == "")
}

func BenchmarkScratchOne(b *testing.B) {
	bb, _ := os.ReadFile("/tmp/fuzzkeep/8b556306af6a2dd3")
	s := strings.TrimSpace(string(bb))
	i := strings.Index(s, "string(")
	v, _ := strconv.Unquote(s[i+7 : len(s)-1])
	for b.Loop() {
		StripText(v)
	}
}
