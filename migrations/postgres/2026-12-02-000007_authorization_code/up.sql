-- The authorization-code flow (RFC 6749 §4.1 with PKCE, RFC 7636): what clients register,
-- the codes, the browser sessions of the sign-in page, and remembered consents.

ALTER TABLE oauth_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN skip_consent BOOLEAN NOT NULL DEFAULT FALSE;

-- Access tokens gain the kind 'authorization_code'.
ALTER TABLE oauth_access_tokens DROP CONSTRAINT oauth_access_tokens_kind_check;
ALTER TABLE oauth_access_tokens ADD CONSTRAINT oauth_access_tokens_kind_check
    CHECK (kind IN ('authorization_code', 'password', 'client_credentials', 'personal', 'refresh'));

-- A code is stored only as its keyed hash, bound to everything the token request must
-- match. access_token_id and family_id name what was issued from it, so that a second
-- presentation revokes them (RFC 6749 §4.1.2).
CREATE TABLE oauth_authorization_codes (
    code_hash          TEXT PRIMARY KEY,
    tenant_id          BIGINT NOT NULL REFERENCES tenants (id),
    client_id          TEXT NOT NULL,
    user_id            BIGINT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    redirect_uri_given BOOLEAN NOT NULL,
    pkce               TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    expires_at         TIMESTAMP NOT NULL,
    used_at            TIMESTAMP,
    access_token_id    TEXT,
    family_id          TEXT,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX oauth_authorization_codes_tenant_id ON oauth_authorization_codes (tenant_id);
CREATE INDEX oauth_authorization_codes_expires_at ON oauth_authorization_codes (expires_at);

-- A signed-in browser: one tenant's user, the id stored only as its keyed hash.
CREATE TABLE browser_sessions (
    id_hash      TEXT PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants (id),
    user_id      BIGINT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX browser_sessions_tenant_id_user_id ON browser_sessions (tenant_id, user_id);

-- A user's remembered approval of a client's scopes.
CREATE TABLE oauth_consents (
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id),
    user_id    BIGINT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
