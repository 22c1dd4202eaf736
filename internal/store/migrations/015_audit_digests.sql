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

-- audit_verify_after recomputes the chain from the link after p_after, whose hash is
-- p_prev, and answers its first fault as audit_verify does: a verifier that trusts a signed
-- digest of link p_after checks only what follows it. From 0 and a hash of zeros it is the
-- whole chain, which audit_verify now is.
CREATE FUNCTION audit_verify_after(p_after bigint, p_prev bytea) RETURNS TABLE (seq bigint, record_id bigint, fault text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    prev     bytea := p_prev;
    expected bigint := p_after + 1;
    link     record;
BEGIN
    FOR link IN SELECT c.seq, c.record_id, c.hash, a AS rec, a.id IS NOT NULL AS present
                  FROM audit_chain c LEFT JOIN audit_records a ON a.id = c.record_id
                 WHERE c.seq > p_after ORDER BY c.seq
    LOOP
        IF link.seq <> expected THEN
            RETURN QUERY SELECT expected, NULL::bigint, 'link missing'::text;
            RETURN;
        END IF;
        IF NOT link.present THEN
            RETURN QUERY SELECT link.seq, link.record_id, 'record deleted'::text;
            RETURN;
        END IF;
        IF audit_link_hash(prev, link.seq, audit_record_digest(link.rec)) <> link.hash THEN
            RETURN QUERY SELECT link.seq, link.record_id, 'record altered or moved'::text;
            RETURN;
        END IF;
        prev := link.hash;
        expected := expected + 1;
    END LOOP;
END
$$;
CREATE OR REPLACE FUNCTION audit_verify() RETURNS TABLE (seq bigint, record_id bigint, fault text)
LANGUAGE sql STABLE AS $$
    SELECT * FROM audit_verify_after(0, decode(repeat('00', 32), 'hex'))
$$;

---- create above / drop below ----

-- 014's audit_verify, whole again (its wrapper above needs the helper dropped here).
DROP FUNCTION audit_verify();
DROP FUNCTION audit_verify_after(bigint, bytea);
CREATE FUNCTION audit_verify() RETURNS TABLE (seq bigint, record_id bigint, fault text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    prev     bytea := decode(repeat('00', 32), 'hex');
    expected bigint := 1;
    link     record;
BEGIN
    FOR link IN SELECT c.seq, c.record_id, c.hash, a AS rec, a.id IS NOT NULL AS present
                  FROM audit_chain c LEFT JOIN audit_records a ON a.id = c.record_id ORDER BY c.seq
    LOOP
        IF link.seq <> expected THEN
            RETURN QUERY SELECT expected, NULL::bigint, 'link missing'::text;
            RETURN;
        END IF;
        IF NOT link.present THEN
            RETURN QUERY SELECT link.seq, link.record_id, 'record deleted'::text;
            RETURN;
        END IF;
        IF audit_link_hash(prev, link.seq, audit_record_digest(link.rec)) <> link.hash THEN
            RETURN QUERY SELECT link.seq, link.record_id, 'record altered or moved'::text;
            RETURN;
        END IF;
        prev := link.hash;
        expected := expected + 1;
    END LOOP;
END
$$;

DROP INDEX audit_records_actor_action_idx;
DROP INDEX audit_records_action_idx;
DROP INDEX audit_records_actor_idx;
DROP TABLE audit_digests;
