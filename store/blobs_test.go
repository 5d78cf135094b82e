package store_test

import (
	"bytes"
	"context"
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
