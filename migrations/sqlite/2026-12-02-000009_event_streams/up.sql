-- Event streams (receivers of security events, RFC 8936 poll for now) and what each has
-- still to receive. An event is queued for every enabled stream that wants it (its
-- tenant's, and the platform-wide ones: tenant_id NULL) in the transaction that records
-- it, so a stream misses nothing that committed; a row leaves the queue when the receiver
-- acknowledges it.
CREATE TABLE event_streams (
    id               TEXT PRIMARY KEY,
    tenant_id        INTEGER REFERENCES tenants (id),
    delivery_method  TEXT NOT NULL,
    audience         TEXT NOT NULL,
    events_requested TEXT NOT NULL,
    status           TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX event_streams_tenant_id ON event_streams (tenant_id);

CREATE TABLE event_stream_queue (
    stream_id TEXT NOT NULL REFERENCES event_streams (id) ON DELETE CASCADE,
    event_id  INTEGER NOT NULL REFERENCES security_events (id),
    PRIMARY KEY (stream_id, event_id)
);
CREATE INDEX event_stream_queue_event_id ON event_stream_queue (event_id);
