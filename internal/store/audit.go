package store

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

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
	// Details hold ids and statuses only, never personal data.
	Details map[string]any
}

// RecordAction appends a to the audit trail as ctx's actor's (audit.From), with the request
// the actor came in. The tenant transitions the action made are recorded by the database in
// their own transactions; this is the request's outcome, written once it is known.
func (s *Store) RecordAction(ctx context.Context, a Action) error {
	actor, ok := audit.From(ctx)
	if !ok {
		return &fault.InvariantError{Op: "record action", Msg: "no actor to record " + a.Action + " for"}
	}
	details := []byte("{}")
	if len(a.Details) > 0 {
		var err error
		if details, err = json.Marshal(a.Details); err != nil {
			return &fault.InvariantError{Op: "record action", Msg: "details do not marshal", Err: err}
		}
	}
	var ip *string
	if actor.SourceIP.IsValid() {
		s := actor.SourceIP.String()
		ip = &s
	}
	_, err := s.db.Exec(ctx, `INSERT INTO audit_records (actor, action, outcome, problem, tenant_id, run_id, request_id, source_ip, user_agent, details)
		VALUES ($1, $2, $3, nullif($4, ''), $5, $6, nullif($7, ''), $8::inet, nullif($9, ''), $10::text::jsonb)`,
		Truncate(actor.Name, 512), a.Action, a.Outcome, a.Problem, a.TenantID, a.RunID,
		Truncate(actor.RequestID, 128), ip, Truncate(actor.UserAgent, 512), string(details))
	return fault.FromDB("record action", err)
}
