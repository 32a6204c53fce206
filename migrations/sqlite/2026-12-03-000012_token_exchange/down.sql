-- Clients lose the grant the older schema does not know (its code would refuse the row).
UPDATE oauth_clients SET grant_types = TRIM(REPLACE(' ' || grant_types || ' ', ' urn:ietf:params:oauth:grant-type:token-exchange ', ' '));
DELETE FROM oauth_access_tokens WHERE kind = 'exchanged';
CREATE TABLE oauth_access_tokens_previous (
    id         TEXT PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    client_id  TEXT NOT NULL,
    user_id    INTEGER,
    kind       TEXT NOT NULL CHECK (kind IN ('authorization_code', 'password', 'client_credentials', 'personal', 'refresh')),
    name       TEXT,
    scopes     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    token_hash TEXT,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
INSERT INTO oauth_access_tokens_previous
    SELECT id, tenant_id, client_id, user_id, kind, name, scopes, created_at, expires_at, revoked_at, token_hash
    FROM oauth_access_tokens;
DROP TABLE oauth_access_tokens;
ALTER TABLE oauth_access_tokens_previous RENAME TO oauth_access_tokens;
CREATE UNIQUE INDEX oauth_access_tokens_tenant_id_id ON oauth_access_tokens (tenant_id, id);
CREATE INDEX oauth_access_tokens_tenant_id_client_id ON oauth_access_tokens (tenant_id, client_id);
CREATE INDEX oauth_access_tokens_tenant_id_user_id ON oauth_access_tokens (tenant_id, user_id);
CREATE INDEX oauth_access_tokens_expires_at ON oauth_access_tokens (expires_at);