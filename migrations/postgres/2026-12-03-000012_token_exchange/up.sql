-- Token exchange (RFC 8693; issue 17). An exchanged access token is an ordinary row of its
-- (target) tenant, of kind 'exchanged', that also names what it was exchanged from and
-- who acts with it: the subject token's jti, the actor (RFC 8693 §4.1: the exchanging
-- client, and for platform staff the platform user, both of the actor's tenant) and, for
-- a delegation to another client, the audience. Its validity depends on them too
-- (`AccessTokenState::find`), and revocations cascade through them (`revoke_tokens`).
ALTER TABLE oauth_access_tokens DROP CONSTRAINT oauth_access_tokens_kind_check;
ALTER TABLE oauth_access_tokens ADD CONSTRAINT oauth_access_tokens_kind_check
    CHECK (kind IN ('authorization_code', 'password', 'client_credentials', 'personal', 'refresh', 'exchanged'));
ALTER TABLE oauth_access_tokens
    ADD COLUMN subject_token_id TEXT,
    ADD COLUMN actor_tenant_id  BIGINT,
    ADD COLUMN actor_client_id  TEXT,
    ADD COLUMN actor_user_id    BIGINT,
    ADD COLUMN audience         TEXT,
    ADD CONSTRAINT oauth_access_tokens_actor_client
        FOREIGN KEY (actor_tenant_id, actor_client_id) REFERENCES oauth_clients (tenant_id, id),
    ADD CONSTRAINT oauth_access_tokens_actor_user
        FOREIGN KEY (actor_tenant_id, actor_user_id) REFERENCES users (tenant_id, id),
    ADD CONSTRAINT oauth_access_tokens_exchange CHECK (
        (kind = 'exchanged') = (subject_token_id IS NOT NULL AND actor_tenant_id IS NOT NULL AND actor_client_id IS NOT NULL)
    );
-- The cascades' lookups: by subject token, by actor client, by actor user.
CREATE INDEX oauth_access_tokens_subject_token_id ON oauth_access_tokens (subject_token_id)
    WHERE subject_token_id IS NOT NULL;
CREATE INDEX oauth_access_tokens_actor_client ON oauth_access_tokens (actor_tenant_id, actor_client_id)
    WHERE actor_client_id IS NOT NULL;
CREATE INDEX oauth_access_tokens_actor_user ON oauth_access_tokens (actor_tenant_id, actor_user_id)
    WHERE actor_user_id IS NOT NULL;
