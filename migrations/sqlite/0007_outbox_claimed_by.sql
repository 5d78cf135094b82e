-- The replica that claimed an outbox row (store/replica.go; on SQLite one process owns
-- the file and releases its predecessor's rows at start).
ALTER TABLE outbox ADD COLUMN claimed_by INTEGER;
