DROP INDEX security_events_retired_key;
ALTER TABLE event_streams DROP COLUMN lease_owner;
ALTER TABLE event_streams DROP COLUMN lease_until;
ALTER TABLE event_streams DROP COLUMN last_error;
ALTER TABLE event_streams DROP COLUMN next_attempt_at;
ALTER TABLE event_streams DROP COLUMN failing_since;
ALTER TABLE event_streams DROP COLUMN attempts;
ALTER TABLE event_streams DROP COLUMN authorization_header;
ALTER TABLE event_streams DROP COLUMN endpoint_url;
