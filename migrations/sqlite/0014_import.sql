-- mxdesk import: a rerun finds what an earlier run stored by the raw message's SHA-256.
CREATE INDEX inbound_raw ON inbound(raw_sha256);
