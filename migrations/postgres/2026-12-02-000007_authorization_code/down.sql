DROP TABLE oauth_consents;
DROP TABLE browser_sessions;
DROP TABLE oauth_authorization_codes;
DELETE FROM oauth_refresh_tokens WHERE access_token_id IN (SELECT id FROM oauth_access_tokens WHERE kind = 'authorization_code');
DELETE FROM oauth_access_tokens WHERE kind = 'authorization_code';
ALTER TABLE oauth_access_tokens DROP CONSTRAINT oauth_access_tokens_kind_check;
ALTER TABLE oauth_access_tokens ADD CONSTRAINT oauth_access_tokens_kind_check
    CHECK (kind IN ('password', 'client_credentials', 'personal', 'refresh'));
ALTER TABLE oauth_clients DROP COLUMN skip_consent;
ALTER TABLE oauth_clients DROP COLUMN post_logout_redirect_uris;
ALTER TABLE oauth_clients DROP COLUMN redirect_uris;
