package store

import (
	"context"
	"errors"

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
}

// RecordAction appends a to the audit trail as ctx's actor's (audit.From), with the request
// the actor came in. The tenant transitions the action made are recorded by the database in
// their own transactions; this is the request's outcome, written once it is known.
func (s *Store) RecordAction(ctx context.Context, a Action) error {
	actor, ok := audit.From(ctx)
	if !ok {
		return &fault.InvariantError{Op: "record action", Msg: "no actor to record " + a.Action + " for"}
	}
	name, request, ip, agent := actorColumns(actor)
	_, err := s.db.Exec(ctx, `INSERT INTO audit_records (actor, action, outcome, problem, tenant_id, run_id, request_id, source_ip, user_agent)
		VALUES ($1, $2, $3, nullif($4, ''), $5, $6, nullif($7, ''), nullif($8, '')::inet, nullif($9, ''))`,
		name, a.Action, a.Outcome, a.Problem, a.TenantID, a.RunID, request, ip, agent)
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
	var f AuditFault
	err := s.db.QueryRow(ctx, `SELECT seq, record_id, fault FROM audit_verify()`).Scan(&f.Seq, &f.RecordID, &f.Fault)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fault.FromDB("verify audit chain", err)
	}
	return &f, nil
}
