-- Large blobs (a 25 MB message, its attachment) are stored in chunks of 1 MiB: the
-- driver copies each parameter it binds, and SQLite builds each row in one piece, so a
-- blob written whole cost two or three copies of its size in memory; in chunks, one
-- chunk's. Such a blob's row in blobs keeps its size and an empty data column.
CREATE TABLE blob_chunks (
    sha256  TEXT NOT NULL REFERENCES blobs(sha256),
    seq     INTEGER NOT NULL,
    data    BYTEA NOT NULL,
    PRIMARY KEY (sha256, seq)
);
