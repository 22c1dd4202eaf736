-- The audit trail's hash chain: each link binds one record (its canonical digest) to the
-- link before it, so that a record edited, deleted or moved after its sealing is found by
-- recomputing the chain (audit_verify). Kept apart from the records, which are never
-- updated, and made by a sealer after commit rather than at insert: the records of
-- concurrent onboardings never wait on one chain head. The sealer links, in id order, the
-- records whose transactions are older than every transaction still running (their xact
-- below the snapshot's xmin), so none can commit behind a link already made: the chain's
-- order is its seq, which is the sealing order. Append-only, like the records.
CREATE TABLE audit_chain (
    seq       bigint PRIMARY KEY CHECK (seq > 0),
    -- No foreign key: a deleted record must leave its link behind for the verifier to name.
    record_id bigint NOT NULL UNIQUE,
    hash      bytea NOT NULL CHECK (octet_length(hash) = 32),
    sealed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER audit_chain_no_change BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();

-- A record's canonical form: a JSON array of every column in a fixed order, the time in UTC
-- to the microsecond whatever the session's time zone, jsonb's normalised text for details.
CREATE FUNCTION audit_record_digest(r audit_records) RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT sha256(convert_to(jsonb_build_array(r.id, to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        r.xact::text, r.actor, r.action, r.outcome, r.problem, r.tenant_id, r.run_id, r.request_id,
        r.source_ip::text, r.user_agent, r.execution_arn, r.details)::text, 'UTF8'))
$$;

-- A link's hash: the previous link's, the link's position and the record's digest.
CREATE FUNCTION audit_link_hash(prev bytea, seq bigint, digest bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(prev || int8send(seq) || digest)
$$;

-- audit_seal links up to p_limit records that no running transaction can still precede,
-- and answers how many. One sealer at a time (a transaction lock); the chain starts from a
-- hash of zeros.
CREATE FUNCTION audit_seal(p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    horizon  xid8 := pg_snapshot_xmin(pg_current_snapshot());
    head_seq bigint;
    head     bytea;
    r        audit_records;
    n        integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7630636861696); -- one sealer at a time
    SELECT c.seq, c.hash INTO head_seq, head FROM audit_chain c ORDER BY c.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head := decode(repeat('00', 32), 'hex');
    END IF;
    FOR r IN SELECT a.* FROM audit_records a
              WHERE a.xact < horizon AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.record_id = a.id)
              ORDER BY a.id LIMIT p_limit
    LOOP
        head_seq := head_seq + 1;
        head := audit_link_hash(head, head_seq, audit_record_digest(r));
        INSERT INTO audit_chain (seq, record_id, hash) VALUES (head_seq, r.id, head);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- audit_verify recomputes the chain from its start and answers its first fault, or no row:
-- a link missing (a gap in seq), a record deleted (its link stands alone), or a record
-- altered or moved (its link's hash no longer follows).
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

---- create above / drop below ----

DROP FUNCTION audit_verify();
DROP FUNCTION audit_seal(integer);
DROP FUNCTION audit_link_hash(bytea, bigint, bytea);
DROP FUNCTION audit_record_digest(audit_records);
DROP TABLE audit_chain;
