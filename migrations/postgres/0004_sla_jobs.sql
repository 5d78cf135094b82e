-- SLA clock and jobs.
-- sla_paused_seconds: working time the ticket has waited on the customer (Resolved or
-- Closed) before it was reopened; the deadlines are counted from creation plus this.
ALTER TABLE tickets ADD COLUMN sla_paused_seconds BIGINT NOT NULL DEFAULT 0;
-- The feedback-requests job asks each ticket once.
ALTER TABLE tickets ADD COLUMN feedback_requested_at TIMESTAMPTZ;
CREATE INDEX tickets_resolved ON tickets(status, resolved_at);

-- One row per warning the sla-warnings job sent: kind is response_warning,
-- response_breach, resolution_warning or resolution_breach; the deadline is part of
-- the key, so a deadline that moves (priority change, reopen) may warn again.
CREATE TABLE sla_warnings (
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
    kind        TEXT NOT NULL,
    deadline    TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (ticket_id, kind, deadline)
);

-- last_tick is the schedule slot the last scheduled run claimed: a replica that finds
-- its slot already claimed skips it, so each tick runs once across replicas.
ALTER TABLE job_runs ADD COLUMN last_tick TIMESTAMPTZ;
ALTER TABLE job_runs ADD COLUMN last_finish TIMESTAMPTZ;
