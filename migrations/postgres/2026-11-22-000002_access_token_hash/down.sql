ALTER TABLE oauth_access_tokens DROP COLUMN token_hash;
