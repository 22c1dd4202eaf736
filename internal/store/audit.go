package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Outcomes of an audited action.
const (
	ActionAccepted = "accepted"
	ActionRefused  = "refused"
	ActionFailed   = "failed"
)

// Action is one admin action to record: what was asked, of what, and how it ended.
type Action struct {
	Action   string // the closed vocabulary: tenant.create, tenant.archive, …
	Outcome  string // ActionAccepted, ActionRefused or ActionFailed
	Problem  string // a refusal's or failure's problem type (its last path segment)
	TenantID *uuid.UUID
	RunID    *uuid.UUID
	// Echo marks the record of a request whose change is durable already, with a record of
	// its own naming the same actor and request (a transition's, written in the change's
	// transaction): this one adds the outcome, and commits without waiting for its WAL to
	// reach the disk (synchronous_commit off). A PostgreSQL crash in the next few hundred
	// milliseconds may lose it, never the change's record. Refusals and failures are never
	// echoes: their record is their only trace.
	Echo bool
}

// RecordAction appends a to the audit trail as ctx's actor's (audit.From), with the request
// the actor came in. The tenant transitions the action made are recorded by the database in
// their own transactions; this is the request's outcome, written once it is known.
func (s *Store) RecordAction(ctx context.Context, a Action) error {
	actor, ok := audit.From(ctx)
	if !ok {
		return &fault.InvariantError{Op: "record action", Msg: "no actor to record " + a.Action + " for"}
	}
	if a.Echo && a.Outcome != ActionAccepted {
		return &fault.InvariantError{Op: "record action", Msg: "only an accepted request's record may be an echo"}
	}
	name, request, ip, agent := actorColumns(actor)
	// One statement, its own transaction: an echo's setting is that transaction's alone.
	_, err := s.db.Exec(ctx, `WITH commit_mode AS (SELECT set_config('synchronous_commit', CASE WHEN $10 THEN 'off' ELSE current_setting('synchronous_commit') END, true))
		INSERT INTO audit_records (actor, action, outcome, problem, tenant_id, run_id, request_id, source_ip, user_agent)
		SELECT $1, $2, $3, nullif($4, ''), $5, $6, nullif($7, ''), nullif($8, '')::inet, nullif($9, '') FROM commit_mode`,
		name, a.Action, a.Outcome, a.Problem, a.TenantID, a.RunID, request, ip, agent, a.Echo)
	return fault.FromDB("record action", err)
}

// SealAudit links up to limit committed audit records into the hash chain (audit_seal,
// migration 014) and answers how many it linked. Records of transactions still running,
// or older than one that is, wait for a later seal.
func (s *Store) SealAudit(ctx context.Context, limit int) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT audit_seal($1)`, limit).Scan(&n)
	return n, fault.FromDB("seal audit records", err)
}

// AuditFault is the first place the chain no longer holds: a link missing, a record
// deleted, or one altered or moved since its sealing.
type AuditFault struct {
	Seq      int64
	RecordID *int64
	Fault    string
}

// VerifyAudit recomputes the hash chain from its start (audit_verify) and answers its first
// fault, or nil when every link holds.
func (s *Store) VerifyAudit(ctx context.Context) (*AuditFault, error) {
	return s.VerifyAuditAfter(ctx, AuditLink{Hash: make([]byte, 32)})
}

// VerifyAuditAfter recomputes the chain after link from, trusting from's hash (a signed
// digest's), and answers its first fault or nil (audit_verify_after, migration 015).
func (s *Store) VerifyAuditAfter(ctx context.Context, from AuditLink) (*AuditFault, error) {
	var f AuditFault
	err := s.db.QueryRow(ctx, `SELECT seq, record_id, fault FROM audit_verify_after($1, $2)`, from.Seq, from.Hash).
		Scan(&f.Seq, &f.RecordID, &f.Fault)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fault.FromDB("verify audit chain", err)
	}
	return &f, nil
}

// AuditLink is one link of the chain: its position and its hash.
type AuditLink struct {
	Seq  int64
	Hash []byte
}

// AuditHead is the chain's newest link; Seq 0 when nothing is sealed yet.
func (s *Store) AuditHead(ctx context.Context) (AuditLink, error) {
	var l AuditLink
	err := s.db.QueryRow(ctx, `SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1`).Scan(&l.Seq, &l.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return AuditLink{}, nil
	}
	return l, fault.FromDB("read audit chain head", err)
}

// AuditLinkAt is the link at seq; ok is false when there is none.
func (s *Store) AuditLinkAt(ctx context.Context, seq int64) (l AuditLink, ok bool, err error) {
	err = s.db.QueryRow(ctx, `SELECT seq, hash FROM audit_chain WHERE seq = $1`, seq).Scan(&l.Seq, &l.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return AuditLink{}, false, nil
	}
	return l, err == nil, fault.FromDB("read audit link", err)
}

// AuditDigest is what the sealer wrote of one signed digest (audit_digests): the link it
// signed, the object's key in the digest bucket and the SHA-256 of the object's bytes.
type AuditDigest struct {
	Link     AuditLink
	Key      string
	SHA256   []byte
	SignedAt time.Time
}

// LastAuditDigest is the newest digest the sealer recorded; ok is false before the first.
func (s *Store) LastAuditDigest(ctx context.Context) (d AuditDigest, ok bool, err error) {
	err = s.db.QueryRow(ctx, `SELECT seq, hash, object_key, sha256, signed_at FROM audit_digests ORDER BY seq DESC LIMIT 1`).
		Scan(&d.Link.Seq, &d.Link.Hash, &d.Key, &d.SHA256, &d.SignedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return AuditDigest{}, false, nil
	}
	return d, err == nil, fault.FromDB("read last audit digest", err)
}

// RecordAuditDigest records a digest written to the bucket. Recording one twice (a sealer
// that wrote the object, then stopped before this) is not an error.
func (s *Store) RecordAuditDigest(ctx context.Context, d AuditDigest) error {
	_, err := s.db.Exec(ctx, `INSERT INTO audit_digests (seq, hash, object_key, sha256, signed_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, d.Link.Seq, d.Link.Hash, d.Key, d.SHA256, d.SignedAt)
	return fault.FromDB("record audit digest", err)
}
