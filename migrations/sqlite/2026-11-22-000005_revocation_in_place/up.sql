-- revoked_at is in no index: revocations and tenant deletions update it for many rows at
-- once, and purge walks the primary key instead (see the PostgreSQL migration of the same
-- name, where this matters most).
DROP INDEX oauth_access_tokens_revoked_at;
DROP INDEX oauth_refresh_tokens_revoked_at;
