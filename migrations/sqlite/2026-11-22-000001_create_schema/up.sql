-- tenauth schema, SQLite flavour. Keep in step with ../../postgres/ (same names, same facts).
-- Timestamps are UTC, stored as diesel's TIMESTAMP text.

-- AUTOINCREMENT: tenant ids are never reused, even after the newest tenant is erased.
CREATE TABLE tenants (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    slug         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    suspended_at TIMESTAMP,
    deleted_at   TIMESTAMP
);

-- Tenant 1 is the platform tenant: its admins manage every other tenant.
INSERT INTO tenants (slug, name, status, created_at, updated_at)
VALUES ('platform', 'Platform', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id),
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, username)
);
-- Also the target of the (tenant_id, user_id) foreign keys below.
CREATE UNIQUE INDEX users_tenant_id_id ON users (tenant_id, id);

CREATE TABLE oauth_clients (
    id              TEXT PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id),
    name            TEXT NOT NULL,
    secret_hash     TEXT,
    grant_types     TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    personal_access BOOLEAN NOT NULL DEFAULT 0,
    revoked_at      TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX oauth_clients_tenant_id_id ON oauth_clients (tenant_id, id);
-- One personal-access client per tenant.
CREATE UNIQUE INDEX oauth_clients_personal_access ON oauth_clients (tenant_id) WHERE personal_access;

-- The platform tenant's personal-access client; other tenants get theirs when created.
INSERT INTO oauth_clients (id, tenant_id, name, secret_hash, grant_types, scopes, personal_access, created_at, updated_at)
VALUES (lower(hex(randomblob(16))), 1, 'Personal Access Client', NULL, '', '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

-- id is the JWT's jti. The composite foreign keys make it impossible, in the database
-- itself, for a token to name a client or a user of another tenant.
CREATE TABLE oauth_access_tokens (
    id         TEXT PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    client_id  TEXT NOT NULL,
    user_id    INTEGER,
    kind       TEXT NOT NULL CHECK (kind IN ('password', 'client_credentials', 'personal', 'refresh')),
    name       TEXT,
    scopes     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX oauth_access_tokens_tenant_id_id ON oauth_access_tokens (tenant_id, id);
CREATE INDEX oauth_access_tokens_tenant_id_client_id ON oauth_access_tokens (tenant_id, client_id);
CREATE INDEX oauth_access_tokens_tenant_id_user_id ON oauth_access_tokens (tenant_id, user_id);
CREATE INDEX oauth_access_tokens_expires_at ON oauth_access_tokens (expires_at);

-- Refresh tokens carry their own client, user and scopes: the access token they were
-- issued with expires long before them and may be purged, so access_token_id is a plain,
-- indexed reference rather than a foreign key.
CREATE TABLE oauth_refresh_tokens (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id),
    client_id       TEXT NOT NULL,
    user_id         INTEGER,
    access_token_id TEXT NOT NULL,
    family_id       TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    used_at         TIMESTAMP,
    revoked_at      TIMESTAMP,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX oauth_refresh_tokens_tenant_id_id ON oauth_refresh_tokens (tenant_id, id);
CREATE INDEX oauth_refresh_tokens_tenant_id_client_id ON oauth_refresh_tokens (tenant_id, client_id);
CREATE INDEX oauth_refresh_tokens_tenant_id_user_id ON oauth_refresh_tokens (tenant_id, user_id);
CREATE INDEX oauth_refresh_tokens_access_token_id ON oauth_refresh_tokens (access_token_id);
CREATE INDEX oauth_refresh_tokens_family_id ON oauth_refresh_tokens (family_id);
CREATE INDEX oauth_refresh_tokens_expires_at ON oauth_refresh_tokens (expires_at);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT,
    details    TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_tenant_id_id ON audit_events (tenant_id, id);
