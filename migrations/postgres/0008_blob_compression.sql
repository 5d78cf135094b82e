-- Raw messages and attachments are compressed with lz4 instead of pglz: pglz spent ~1.8 ms
-- of CPU on every 100 KiB row (the spool insert and the attachment's, per message), lz4
-- ~0.4 ms, and mail still shrinks. A server built without lz4 stores them uncompressed
-- instead (as fast; bigger).
DO $$
BEGIN
    ALTER TABLE blobs ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE blob_chunks ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;
    ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
END
$$;
