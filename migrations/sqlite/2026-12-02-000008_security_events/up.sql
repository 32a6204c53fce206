-- The transactional outbox of security events (RFC 8417 SETs for resource servers): each
-- row is written in the same transaction as the change it reports, so a change without
-- its event, or an event without its change, cannot exist. One row stands for all the
-- tokens it covers (a tenant deletion is one row). What a row names depends on its kind:
-- the client, the user, the token (jti) or the refresh family.
CREATE TABLE security_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    txn        TEXT NOT NULL,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    kind       TEXT NOT NULL,
    client_id  TEXT,
    user_id    INTEGER,
    token_id   TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX security_events_tenant_id ON security_events (tenant_id);
