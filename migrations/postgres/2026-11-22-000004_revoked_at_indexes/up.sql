-- Purge deletes tokens that expired or were revoked long ago: with expires_at indexed
-- already, these make the "OR revoked_at < cutoff" half an index lookup too. Partial: most
-- tokens are never revoked.
CREATE INDEX oauth_access_tokens_revoked_at ON oauth_access_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX oauth_refresh_tokens_revoked_at ON oauth_refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
