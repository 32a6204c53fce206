-- Push delivery of security events (RFC 8935).
-- endpoint_url: where SETs are POSTed (push streams only). authorization_header: what is
-- sent as Authorization with each push, sealed (AES-256-GCM under a key derived from
-- keys/secret-hash.key): the one secret tenauth must be able to read back, so it cannot be
-- hashed.
ALTER TABLE event_streams ADD COLUMN endpoint_url TEXT;
ALTER TABLE event_streams ADD COLUMN authorization_header TEXT;

-- Each stream's delivery state, apart from its configuration: recording an event locks
-- the configuration rows of the streams it goes to until its transaction commits (which
-- makes queue order commit order), and the dispatchers claim these rows instead, with FOR
-- UPDATE SKIP LOCKED, so a steady flow of events never hides a stream from them.
-- attempts / failing_since / next_attempt_at / last_error: the retries of the oldest
-- undelivered event. lease_until / lease_owner: the instance delivering the stream; an
-- expired lease is anyone's.
CREATE TABLE event_stream_deliveries (
    stream_id       TEXT PRIMARY KEY REFERENCES event_streams (id) ON DELETE CASCADE,
    attempts        INTEGER NOT NULL DEFAULT 0,
    failing_since   TIMESTAMP,
    next_attempt_at TIMESTAMP,
    last_error      TEXT,
    lease_until     TIMESTAMP,
    lease_owner     TEXT
);
-- Streams made before this migration (poll streams) get theirs.
INSERT INTO event_stream_deliveries (stream_id) SELECT id FROM event_streams;

-- A signing key's retirement is recorded once, by whichever instance notices it first.
CREATE UNIQUE INDEX security_events_retired_key ON security_events (token_id)
    WHERE kind = 'signing-key-retired';
