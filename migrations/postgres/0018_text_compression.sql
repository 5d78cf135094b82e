-- Message text and composed mail are compressed with lz4, as raw messages are (0008):
-- pglz, on the text of every message ingested and on every acknowledgement queued, was
-- the database server's costliest function while ingest caught up on a burst. Rows
-- already written keep theirs. A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE messages ALTER COLUMN text_body SET COMPRESSION lz4;
    ALTER TABLE messages ALTER COLUMN html_body SET COMPRESSION lz4;
    ALTER TABLE outbox ALTER COLUMN raw SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    NULL;
END
$$;
