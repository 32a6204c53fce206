DROP TABLE audit_events;
DROP TABLE oauth_refresh_tokens;
DROP TABLE oauth_access_tokens;
DROP TABLE oauth_clients;
DROP TABLE users;
DROP TABLE tenants;
