package api

import (
	"testing"
	"time"
)

// FuzzCursor: whatever comes as a cursor, decoding answers a cursor or errCursor,
// never a panic, and what it accepts encodes back to an accepted cursor.
func FuzzCursor(f *testing.F) {
	f.Add(cursor{Sort: "updated_at", ID: 7, At: time.Unix(1, 0).UTC(), Filter: "ab"}.encode())
	f.Add("")
	f.Add("eyJ4IjoxfQ")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			if err != errCursor {
				t.Fatalf("error %v, want errCursor", err)
			}
			return
		}
		if _, err := decodeCursor(c.encode()); err != nil {
			t.Fatalf("cursor %+v does not survive encoding: %v", c, err)
		}
	})
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-12-01T00:00:00Z", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-12-01T01:00:00+01:00", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true},
		{"30d", now.Add(-30 * 24 * time.Hour), true},
		{"12h", now.Add(-12 * time.Hour), true},
		{"90m", now.Add(-90 * time.Minute), true},
		{"-1h", time.Time{}, false},
		{"1000000d", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"2026-12-01", time.Time{}, false},
	} {
		got, err := ParseTime(tc.in, now)
		if (err == nil) != tc.ok || tc.ok && !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
