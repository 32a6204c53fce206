-- Token exchange (RFC 8693; issue 17). An exchanged access token is an ordinary row of its
-- (target) tenant, of kind 'exchanged', that also names what it was exchanged from and
-- who acts with it: the subject token's jti, the actor (RFC 8693 §4.1: the exchanging
-- client, and for platform staff the platform user, both of the actor's tenant) and, for
-- a delegation to another client, the audience. Its validity depends on them too
-- (`AccessTokenState::find`), and revocations cascade through them (`revoke_tokens`).
-- SQLite cannot alter a CHECK constraint: the table is rebuilt (no foreign key refers
-- to it).
CREATE TABLE oauth_access_tokens_next (
    id               TEXT PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants (id),
    client_id        TEXT NOT NULL,
    user_id          INTEGER,
    kind             TEXT NOT NULL CHECK (kind IN ('authorization_code', 'password', 'client_credentials', 'personal', 'refresh', 'exchanged')),
    name             TEXT,
    scopes           TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    revoked_at       TIMESTAMP,
    token_hash       TEXT,
    subject_token_id TEXT,
    actor_tenant_id  INTEGER,
    actor_client_id  TEXT,
    actor_user_id    INTEGER,
    audience         TEXT,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (actor_tenant_id, actor_client_id) REFERENCES oauth_clients (tenant_id, id),
    FOREIGN KEY (actor_tenant_id, actor_user_id) REFERENCES users (tenant_id, id),
    CHECK ((kind = 'exchanged') = (subject_token_id IS NOT NULL AND actor_tenant_id IS NOT NULL AND actor_client_id IS NOT NULL))
);
INSERT INTO oauth_access_tokens_next
    (id, tenant_id, client_id, user_id, kind, name, scopes, created_at, expires_at, revoked_at, token_hash)
    SELECT id, tenant_id, client_id, user_id, kind, name, scopes, created_at, expires_at, revoked_at, token_hash
    FROM oauth_access_tokens;
DROP TABLE oauth_access_tokens;
ALTER TABLE oauth_access_tokens_next RENAME TO oauth_access_tokens;
CREATE UNIQUE INDEX oauth_access_tokens_tenant_id_id ON oauth_access_tokens (tenant_id, id);
CREATE INDEX oauth_access_tokens_tenant_id_client_id ON oauth_access_tokens (tenant_id, client_id);
CREATE INDEX oauth_access_tokens_tenant_id_user_id ON oauth_access_tokens (tenant_id, user_id);
CREATE INDEX oauth_access_tokens_expires_at ON oauth_access_tokens (expires_at);
-- The cascades' lookups: by subject token, by actor client, by actor user.
CREATE INDEX oauth_access_tokens_subject_token_id ON oauth_access_tokens (subject_token_id)
    WHERE subject_token_id IS NOT NULL;
CREATE INDEX oauth_access_tokens_actor_client ON oauth_access_tokens (actor_tenant_id, actor_client_id)
    WHERE actor_client_id IS NOT NULL;
CREATE INDEX oauth_access_tokens_actor_user ON oauth_access_tokens (actor_tenant_id, actor_user_id)
    WHERE actor_user_id IS NOT NULL;
