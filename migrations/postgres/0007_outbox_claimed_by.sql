-- The replica that claimed an outbox row (its liveness lock, store/replica.go), so another
-- replica can resend what a crashed one left in flight at once instead of after the lease.
ALTER TABLE outbox ADD COLUMN claimed_by BIGINT;
