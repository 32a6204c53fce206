-- Push delivery of security events (RFC 8935) and every stream's delivery state.
-- endpoint_url: where SETs are POSTed (push streams only). authorization_header: what is
-- sent as Authorization with each push, sealed (AES-256-GCM under a key derived from
-- keys/secret-hash.key): the one secret tenauth must be able to read back, so it cannot be
-- hashed. attempts / failing_since / next_attempt_at / last_error: the retry state of the
-- oldest undelivered event. lease_until / lease_owner: an instance delivering the stream
-- (claimed with FOR UPDATE SKIP LOCKED on PostgreSQL); an expired lease is anyone's.
ALTER TABLE event_streams ADD COLUMN endpoint_url TEXT;
ALTER TABLE event_streams ADD COLUMN authorization_header TEXT;
ALTER TABLE event_streams ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE event_streams ADD COLUMN failing_since TIMESTAMP;
ALTER TABLE event_streams ADD COLUMN next_attempt_at TIMESTAMP;
ALTER TABLE event_streams ADD COLUMN last_error TEXT;
ALTER TABLE event_streams ADD COLUMN lease_until TIMESTAMP;
ALTER TABLE event_streams ADD COLUMN lease_owner TEXT;

-- A signing key's retirement is recorded once, by whichever instance notices it first.
CREATE UNIQUE INDEX security_events_retired_key ON security_events (token_id)
    WHERE kind = 'signing-key-retired';
