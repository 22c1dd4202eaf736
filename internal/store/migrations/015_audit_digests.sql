-- The signed digests of the audit chain (issue 22): every run of the sealer that moved the
-- chain's head signs the head (AWS KMS, an asymmetric key) and writes the signed digest to
-- an S3 bucket under Object Lock in compliance mode, where no one, the account's root
-- included, can change or delete it before its retention ends. This table is the sealer's
-- index of what it wrote: the head each digest signed, where the object is and the SHA-256
-- of its bytes, which the next digest names, so the digests chain like CloudTrail's. The
-- verifier trusts the bucket, not this table; append-only all the same.
CREATE TABLE audit_digests (
    seq        bigint PRIMARY KEY CHECK (seq > 0), -- the chain's head: audit_chain.seq
    hash       bytea NOT NULL CHECK (octet_length(hash) = 32),
    object_key text NOT NULL UNIQUE CHECK (char_length(object_key) <= 1024),
    sha256     bytea NOT NULL CHECK (octet_length(sha256) = 32), -- of the object's bytes
    signed_at  timestamptz NOT NULL
);
CREATE TRIGGER audit_digests_no_change BEFORE UPDATE OR DELETE ON audit_digests
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE TRIGGER audit_digests_no_truncate BEFORE TRUNCATE ON audit_digests
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();

-- GET /admin/audit lists newest first, keyset on (at, id) (store.ListAudit): by actor, by
-- action or by both, with or without a time range, one range of one of these indexes read
-- in order; by time alone 011's (at, id) index, by tenant 011's tenant index (a tenant's
-- records are few, and sorted).
CREATE INDEX audit_records_actor_idx ON audit_records (actor, at DESC, id DESC);
CREATE INDEX audit_records_action_idx ON audit_records (action, at DESC, id DESC);
CREATE INDEX audit_records_actor_action_idx ON audit_records (actor, action, at DESC, id DESC);

---- create above / drop below ----

DROP INDEX audit_records_actor_action_idx;
DROP INDEX audit_records_action_idx;
DROP INDEX audit_records_actor_idx;
DROP TABLE audit_digests;
