-- Usernames follow RFC 8265's UsernameCaseMapped profile from now on. Rows written before
-- hold the old form (Unicode lower case only); tenauth canonicalises them after migrating
-- (Database::migrate), one by one, and marks each row it has checked. A row it cannot
-- canonicalise (the profile refuses the name, or the canonical form is another user's)
-- stays unchecked and is reported, never merged. New rows are written canonical.
ALTER TABLE users ADD COLUMN username_checked BOOLEAN NOT NULL DEFAULT 1;
UPDATE users SET username_checked = 0;
CREATE INDEX users_username_unchecked ON users (id) WHERE NOT username_checked;
