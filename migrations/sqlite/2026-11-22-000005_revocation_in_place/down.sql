CREATE INDEX oauth_access_tokens_revoked_at ON oauth_access_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX oauth_refresh_tokens_revoked_at ON oauth_refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
