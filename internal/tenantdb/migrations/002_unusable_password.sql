-- Until an admin activates their account it has no password at all: password_hash holds an
-- unusable marker, "!" and random characters (as Django's set_unusable_password writes),
-- which no password verifies against. Hashing a random secret with argon2id instead cost
-- most of a provisioning's CPU for nothing. Real passwords are argon2id (PHC format).
ALTER TABLE {{.schema}}.users DROP CONSTRAINT users_password_hash_check;
ALTER TABLE {{.schema}}.users ADD CONSTRAINT users_password_hash_check
    CHECK (password_hash LIKE '$argon2id$%' OR password_hash ~ '^![A-Za-z0-9_-]{40}$');

---- create above / drop below ----

ALTER TABLE {{.schema}}.users DROP CONSTRAINT users_password_hash_check;
ALTER TABLE {{.schema}}.users ADD CONSTRAINT users_password_hash_check CHECK (password_hash LIKE '$argon2id$%');
