DROP TABLE event_stream_queue;
DROP TABLE event_streams;
