-- A deleted user keeps its row (its tokens reference it) under a tombstone username, so
-- the name can be used again; deleted_at records when.
ALTER TABLE users ADD COLUMN deleted_at TIMESTAMP;
