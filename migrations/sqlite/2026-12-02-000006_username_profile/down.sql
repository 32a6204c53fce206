DROP INDEX users_username_unchecked;
ALTER TABLE users DROP COLUMN username_checked;
