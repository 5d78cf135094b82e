package store_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestBlobsLargeAreChunkedAndReadBackWhole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		big := make([]byte, 2<<20+777)
		for i := range big {
			big[i] = byte(i % 253)
		}
		tests := []struct {
			name   string
			data   []byte
			chunks int
		}{
			{"empty", []byte{}, 0},
			{"small", []byte("hello"), 0},
			{"exactly one chunk", big[:1<<20], 0},
			{"over two chunks", big, 3},
		}
		for _, tc := range tests {
			for range 2 { // the second put finds it stored
				var sum string
				err := st.Tx(ctx, func(tx *sqlx.Tx) error {
					var err error
					sum, err = store.PutBlob(ctx, tx, tc.data)
					return err
				})
				storetest.MustNotErr(t, tc.name, err)
				got, err := store.GetBlob(ctx, st.DB, sum)
				storetest.MustNotErr(t, tc.name, err)
				if !bytes.Equal(got, tc.data) {
					t.Errorf("%s: read back %d bytes, want %d", tc.name, len(got), len(tc.data))
				}
				var n int
				storetest.MustNotErr(t, "count", st.DB.Get(&n, st.DB.Rebind("SELECT COUNT(*) FROM blob_chunks WHERE sha256 = ?"), sum))
				if n != tc.chunks {
					t.Errorf("%s: %d chunks, want %d", tc.name, n, tc.chunks)
				}
			}
		}
		// A large message through the group-commit spool, beside small ones.
		sp := st.NewSpool(nil)
		go sp.Run(ctx)
		defer sp.Stop()
		// Concurrent, so the writer may take them as one batch.
		raws := [][]byte{big, []byte("small one"), big, append([]byte("other "), big...)}
		ins := make([]*store.Inbound, len(raws))
		errs := make([]error, len(raws))
		var wg sync.WaitGroup
		for i, raw := range raws {
			ins[i] = &store.Inbound{MailFrom: "a@example.org", Rcpt: []string{"support@example.com"}, Raw: raw}
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = sp.Commit(ctx, ins[i]) }()
		}
		wg.Wait()
		for i, raw := range raws {
			storetest.MustNotErr(t, "spool", errs[i])
			got, err := store.GetInbound(ctx, st.DB, ins[i].ID)
			storetest.MustNotErr(t, "get inbound", err)
			if !bytes.Equal(got.Raw, raw) || got.Size != int64(len(raw)) {
				t.Errorf("spooled %d bytes, read back %d (size %d)", len(raw), len(got.Raw), got.Size)
			}
		}
	})
}

// failingReader yields n bytes, then an error, like an upload cut off.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

func TestPutBlobStream(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		big := make([]byte, 3<<20+5)
		for i := range big {
			big[i] = byte(i % 251)
		}
		count := func(query string, args ...any) int {
			var n int
			storetest.MustNotErr(t, "count", st.DB.Get(&n, st.DB.Rebind(query), args...))
			return n
		}
		tests := []struct {
			name   string
			data   []byte
			limit  int64
			chunks int
			err    error
		}{
			{"empty", []byte{}, 10, 0, nil},
			{"small", []byte("hello"), -1, 0, nil},
			{"exactly one chunk", big[:1<<20], 1 << 20, 0, nil},
			{"one chunk and a byte", big[:1<<20+1], -1, 2, nil},
			{"over three chunks", big, int64(len(big)), 4, nil},
			{"small over the limit", []byte("hello, world"), 4, 0, store.ErrBlobTooLarge},
			{"large over the limit", append([]byte("other"), big...), 2<<20 + 1, 0, store.ErrBlobTooLarge},
		}
		for _, tc := range tests {
			for round := range 2 { // the second finds it stored (or refuses it again)
				var sum string
				var size int64
				err := st.Tx(ctx, func(tx *sqlx.Tx) error {
					var err error
					sum, size, err = store.PutBlobStream(ctx, tx, bytes.NewReader(tc.data), tc.limit)
					return err
				})
				if !errors.Is(err, tc.err) {
					t.Fatalf("%s #%d: err %v, want %v", tc.name, round, err, tc.err)
				}
				if tc.err != nil {
					if n := count("SELECT COUNT(*) FROM blobs WHERE sha256 = ?", store.SHA256(tc.data)); n != 0 {
						t.Errorf("%s: refused, yet stored", tc.name)
					}
					continue
				}
				if sum != store.SHA256(tc.data) || size != int64(len(tc.data)) {
					t.Errorf("%s: %s %d, want %s %d", tc.name, sum, size, store.SHA256(tc.data), len(tc.data))
				}
				got, err := store.GetBlob(ctx, st.DB, sum)
				storetest.MustNotErr(t, tc.name, err)
				if !bytes.Equal(got, tc.data) {
					t.Errorf("%s: read back %d bytes, want %d", tc.name, len(got), len(tc.data))
				}
				if n := count("SELECT COUNT(*) FROM blob_chunks WHERE sha256 = ?", sum); n != tc.chunks {
					t.Errorf("%s: %d chunks, want %d", tc.name, n, tc.chunks)
				}
			}
		}
		// A stream cut off midway stores nothing, even when the caller commits anyway.
		err := st.Tx(ctx, func(tx *sqlx.Tx) error {
			_, _, err := store.PutBlobStream(ctx, tx, &failingReader{n: 2<<20 + 3}, -1)
			if err == nil {
				t.Error("a failing reader stored a blob")
			}
			return nil
		})
		storetest.MustNotErr(t, "commit", err)
		// A streamed blob and the same bytes put whole are one blob.
		var whole string
		storetest.MustNotErr(t, "put", st.Tx(ctx, func(tx *sqlx.Tx) (err error) {
			whole, err = store.PutBlob(ctx, tx, big)
			return err
		}))
		if whole != store.SHA256(big) {
			t.Errorf("PutBlob after PutBlobStream: %s", whole)
		}
		if n := count("SELECT COUNT(*) FROM blobs WHERE sha256 LIKE 'tmp-%'") + count("SELECT COUNT(*) FROM blob_chunks WHERE sha256 LIKE 'tmp-%'"); n != 0 {
			t.Errorf("%d temporary rows left", n)
		}
		if n := count("SELECT COUNT(*) FROM blob_chunks"); n != 2+4 {
			t.Errorf("%d chunks in all, want 6", n)
		}
	})
}
