DROP INDEX security_events_retired_key;
DROP TABLE event_stream_deliveries;
ALTER TABLE event_streams DROP COLUMN authorization_header;
ALTER TABLE event_streams DROP COLUMN endpoint_url;
