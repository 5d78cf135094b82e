package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

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

func putBlob(ctx context.Context, q sqlx.ExtContext, sum string, data []byte) error {
	if data == nil {
		data = []byte{} // NOT NULL: an empty attachment is still a blob
	}
	_, err := q.ExecContext(ctx, q.Rebind(
		"INSERT INTO blobs (sha256, size, data, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING"),
		sum, len(data), data, now())
	if err != nil {
		return fmt.Errorf("put blob %s: %w", sum, err)
	}
	return nil
}

// GetBlob returns the bytes stored under sum.
func GetBlob(ctx context.Context, q sqlx.QueryerContext, sum string) ([]byte, error) {
	var data []byte
	err := sqlx.GetContext(ctx, q, &data, rebind(q, "SELECT data FROM blobs WHERE sha256 = ?"), sum)
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", sum, notFound(err))
	}
	return data, nil
}

// rebind rebinds a query for whatever handle runs it (DB, Tx or Conn).
func rebind(q any, query string) string {
	if b, ok := q.(interface{ Rebind(string) string }); ok {
		return b.Rebind(query)
	}
	return query
}
