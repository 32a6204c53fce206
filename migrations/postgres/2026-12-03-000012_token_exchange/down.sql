-- Clients lose the grant the older schema does not know (its code would refuse the row).
UPDATE oauth_clients SET grant_types = TRIM(REPLACE(' ' || grant_types || ' ', ' urn:ietf:params:oauth:grant-type:token-exchange ', ' '));
DELETE FROM oauth_access_tokens WHERE kind = 'exchanged';
ALTER TABLE oauth_access_tokens
    DROP CONSTRAINT oauth_access_tokens_exchange,
    DROP CONSTRAINT oauth_access_tokens_actor_user,
    DROP CONSTRAINT oauth_access_tokens_actor_client,
    DROP COLUMN audience,
    DROP COLUMN actor_user_id,
    DROP COLUMN actor_client_id,
    DROP COLUMN actor_tenant_id,
    DROP COLUMN subject_token_id;
ALTER TABLE oauth_access_tokens DROP CONSTRAINT oauth_access_tokens_kind_check;
ALTER TABLE oauth_access_tokens ADD CONSTRAINT oauth_access_tokens_kind_check
    CHECK (kind IN ('authorization_code', 'password', 'client_credentials', 'personal', 'refresh'));