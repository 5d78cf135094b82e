package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/jmoiron/sqlx"
)

// SHA256 is the content address mxdesk uses for blobs: lower-case hex.
func SHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// PutBlob stores data under its SHA-256 unless it is already there, and returns the hash.
// Identical attachments and re-delivered raw messages are thus stored once.
func PutBlob(ctx context.Context, q sqlx.ExtContext, data []byte) (string, error) {
	sum := SHA256(data)
	if err := putBlob(ctx, q, sum, data); err != nil {
		return "", err
	}
	return sum, nil
}

// blobChunk is the size above which a blob is stored in chunks (migration 0006).
const blobChunk = 1 << 20

func putBlob(ctx context.Context, q sqlx.ExtContext, sum string, data []byte) error {
	if data == nil {
		data = []byte{} // NOT NULL: an empty attachment is still a blob
	}
	whole := data
	if len(data) > blobChunk {
		whole = []byte{}
	}
	res, err := q.ExecContext(ctx, q.Rebind(
		"INSERT INTO blobs (sha256, size, data, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING"),
		sum, len(data), whole, now())
	if err != nil {
		return fmt.Errorf("put blob %s: %w", sum, err)
	}
	if len(data) <= blobChunk {
		return nil
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // stored before, chunks and all
	}
	return putChunks(ctx, q, sum, data)
}

// putChunks writes a large blob's chunks, one statement each, so no driver ever holds
// more than a chunk of it.
func putChunks(ctx context.Context, q sqlx.ExtContext, sum string, data []byte) error {
	query := q.Rebind("INSERT INTO blob_chunks (sha256, seq, data) VALUES (?, ?, ?)")
	for seq := 0; len(data) > 0; seq++ {
		n := min(blobChunk, len(data))
		if _, err := q.ExecContext(ctx, query, sum, seq, data[:n]); err != nil {
			return fmt.Errorf("put blob %s: chunk %d: %w", sum, seq, err)
		}
		data = data[n:]
	}
	return nil
}

// ErrBlobTooLarge is PutBlobStream's answer to a reader with more bytes than its limit;
// nothing of it is left stored.
var ErrBlobTooLarge = errors.New("blob over the size limit")

// PutBlobStream stores what r yields as a blob, reading at most limit bytes of it (a
// negative limit: no limit), and returns its SHA-256 and size. It holds one chunk in
// memory at a time, whatever the size: an upload of 25 MB costs 1 MiB, not 25.
//
// The hash, which names the blob, is only known at the end, so a large blob's chunks
// are written under a temporary key (a blobs row of its own, for the chunks' foreign
// key) and moved to the real one once it is known; if that blob was stored before, the
// copy is deleted instead. Each step is an ordinary statement on both databases, in the
// caller's transaction, so a rollback leaves nothing. Over the limit, or on any error,
// the temporary rows are deleted too, in case the caller commits anyway.
func PutBlobStream(ctx context.Context, q sqlx.ExtContext, r io.Reader, limit int64) (sum string, size int64, err error) {
	if limit >= 0 {
		r = io.LimitReader(r, limit+1) // one byte more tells "too large" from "exactly the limit"
	}
	br := bufio.NewReader(r)
	h := sha256.New()
	buf := make([]byte, blobChunk)
	tmp := ""
	defer func() {
		if err != nil && tmp != "" {
			dropTempBlob(context.WithoutCancel(ctx), q, tmp)
		}
	}()
	for seq := 0; ; seq++ {
		n, rerr := io.ReadFull(br, buf)
		last := errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF)
		if rerr != nil && !last {
			return "", 0, fmt.Errorf("put blob: read: %w", rerr)
		}
		size += int64(n)
		if limit >= 0 && size > limit {
			return "", 0, ErrBlobTooLarge
		}
		h.Write(buf[:n])
		if !last {
			// A full chunk: is there more? A blob of exactly one chunk is stored whole,
			// as PutBlob stores it.
			if _, perr := br.Peek(1); errors.Is(perr, io.EOF) {
				last = true
			} else if perr != nil {
				return "", 0, fmt.Errorf("put blob: read: %w", perr)
			}
		}
		if last && seq == 0 {
			sum = hex.EncodeToString(h.Sum(nil))
			return sum, size, putBlob(ctx, q, sum, buf[:n])
		}
		if tmp == "" {
			if tmp, err = newTempBlob(ctx, q); err != nil {
				return "", 0, err
			}
		}
		if n > 0 {
			if _, err := q.ExecContext(ctx, q.Rebind("INSERT INTO blob_chunks (sha256, seq, data) VALUES (?, ?, ?)"), tmp, seq, buf[:n]); err != nil {
				return "", 0, fmt.Errorf("put blob: chunk %d: %w", seq, err)
			}
		}
		if last {
			break
		}
	}
	sum = hex.EncodeToString(h.Sum(nil))
	res, err := q.ExecContext(ctx, q.Rebind(
		"INSERT INTO blobs (sha256, size, data, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING"),
		sum, size, []byte{}, now())
	if err != nil {
		return "", 0, fmt.Errorf("put blob %s: %w", sum, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", 0, fmt.Errorf("put blob %s: %w", sum, err)
	} else if n == 1 {
		if _, err := q.ExecContext(ctx, q.Rebind("UPDATE blob_chunks SET sha256 = ? WHERE sha256 = ?"), sum, tmp); err != nil {
			return "", 0, fmt.Errorf("put blob %s: move chunks: %w", sum, err)
		}
	}
	if err := dropTempBlob(ctx, q, tmp); err != nil {
		return "", 0, err
	}
	return sum, size, nil
}

// newTempBlob makes the blobs row a streamed blob's chunks hang from until its hash is
// known. The key cannot be a hash: it is not 64 hex digits.
func newTempBlob(ctx context.Context, q sqlx.ExtContext) (string, error) {
	var b [16]byte
	rand.Read(b[:])
	key := "tmp-" + hex.EncodeToString(b[:])
	if _, err := q.ExecContext(ctx, q.Rebind("INSERT INTO blobs (sha256, size, data, created_at) VALUES (?, 0, ?, ?)"), key, []byte{}, now()); err != nil {
		return "", fmt.Errorf("put blob: %w", err)
	}
	return key, nil
}

// dropTempBlob deletes a temporary key's chunks (if any are left) and its row.
func dropTempBlob(ctx context.Context, q sqlx.ExtContext, key string) error {
	if _, err := q.ExecContext(ctx, q.Rebind("DELETE FROM blob_chunks WHERE sha256 = ?"), key); err != nil {
		return fmt.Errorf("put blob: drop %s: %w", key, err)
	}
	if _, err := q.ExecContext(ctx, q.Rebind("DELETE FROM blobs WHERE sha256 = ?"), key); err != nil {
		return fmt.Errorf("put blob: drop %s: %w", key, err)
	}
	return nil
}

// GetBlob returns the bytes stored under sum.
func GetBlob(ctx context.Context, q sqlx.QueryerContext, sum string) ([]byte, error) {
	size, data, err := blobHead(ctx, q, sum)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) == size {
		return data, nil
	}
	// Chunked: read into one buffer of the final size.
	out := make([]byte, size)
	if _, err := io.ReadFull(&chunkReader{ctx: ctx, q: q, sum: sum, left: size}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// OpenBlob returns a reader over the bytes stored under sum that holds at most one chunk
// of them at a time, so a 25 MB message can be parsed without being in memory whole.
// Each chunk is its own query: nothing stays open between reads (on SQLite, one
// connection serves everyone).
func OpenBlob(ctx context.Context, q sqlx.QueryerContext, sum string) (io.Reader, error) {
	size, data, err := blobHead(ctx, q, sum)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) == size {
		return bytes.NewReader(data), nil
	}
	return &chunkReader{ctx: ctx, q: q, sum: sum, left: size}, nil
}

// blobHead reads a blob's row: its size, and its bytes unless it is chunked (then data
// is empty and shorter than size).
func blobHead(ctx context.Context, q sqlx.QueryerContext, sum string) (size int64, data []byte, err error) {
	var b struct {
		Size int64  `db:"size"`
		Data []byte `db:"data"`
	}
	if err := sqlx.GetContext(ctx, q, &b, rebind(q, "SELECT size, data FROM blobs WHERE sha256 = ?"), sum); err != nil {
		return 0, nil, fmt.Errorf("get blob %s: %w", sum, notFound(err))
	}
	return b.Size, b.Data, nil
}

type chunkReader struct {
	ctx  context.Context
	q    sqlx.QueryerContext
	sum  string
	seq  int
	buf  []byte
	own  []byte // reused for every chunk
	left int64
}

// next reads the next chunk into the reader's own buffer: scanned as RawBytes, so
// database/sql does not clone each megabyte once more.
func (r *chunkReader) next() error {
	rows, err := r.q.QueryContext(r.ctx, rebind(r.q, "SELECT data FROM blob_chunks WHERE sha256 = ? AND seq = ?"), r.sum, r.seq)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return ErrNotFound
	}
	var data sql.RawBytes
	if err := rows.Scan(&data); err != nil {
		return err
	}
	if len(data) == 0 || int64(len(data)) > r.left {
		return fmt.Errorf("%d bytes, %d left", len(data), r.left)
	}
	r.own = append(r.own[:0], data...)
	r.buf, r.seq, r.left = r.own, r.seq+1, r.left-int64(len(data))
	return rows.Close()
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.left == 0 {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, fmt.Errorf("read blob %s: chunk %d: %w", r.sum, r.seq, err)
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// rebind rebinds a query for whatever handle runs it (DB, Tx or Conn).
func rebind(q any, query string) string {
	if b, ok := q.(interface{ Rebind(string) string }); ok {
		return b.Rebind(query)
	}
	return query
}
