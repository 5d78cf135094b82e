package smtpd

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestReadAllKeepsEveryByteBehindTheHeadRoom(t *testing.T) {
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i/251)
		}
		return b
	}
	const room, capacity = 16, 16 + 4096
	tests := []struct {
		name string
		size int
		r    func([]byte) io.Reader
	}{
		{"empty", 0, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"fits the first buffer", 4000, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"exactly the first buffer", 4096, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"one byte past it", 4097, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"3 MiB in one-byte reads", 3 << 20, func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
		{"3 MiB and a bit, half reads", 3<<20 + 12345, func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := pattern(tc.size)
			got, err := readAll(tc.r(want), make([]byte, room, capacity))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != room+tc.size || !bytes.Equal(got[room:], want) {
				t.Fatalf("read %d bytes (want %d behind %d of room), content equal: %v", len(got)-room, tc.size, room, bytes.Equal(got[room:], want))
			}
			if tc.size > 4096 && cap(got) != len(got) {
				t.Errorf("a message past the first buffer is copied once into its final size: cap %d, len %d", cap(got), len(got))
			}
		})
	}
	t.Run("an error midway returns what was read with the error", func(t *testing.T) {
		want := pattern(2 << 20)
		boom := errors.New("boom")
		got, err := readAll(io.MultiReader(bytes.NewReader(want), iotest.ErrReader(boom)), make([]byte, room, capacity))
		if !errors.Is(err, boom) || !bytes.Equal(got[room:], want) {
			t.Fatalf("err %v, %d bytes", err, len(got)-room)
		}
	})
}
