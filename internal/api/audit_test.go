package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/audit"
)

// testIssuer is the issuer the test tokens' claims name.
const testIssuer = "https://issuer.example"

// auditRecord is an audit_records row as the tests read it.
type auditRecord struct {
	Actor, Action, Outcome, Problem string
	RequestID                       string
	HasSource                       bool
}

// actions are the audit records of action on the tenant (or, with uuid.Nil, on none).
func (e *env) actions(t *testing.T, action string, tenantID uuid.UUID) []auditRecord {
	t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT actor, action, outcome, coalesce(problem, ''), coalesce(request_id, ''), source_ip IS NOT NULL
		FROM audit_records WHERE action = $1 AND tenant_id IS NOT DISTINCT FROM $2 ORDER BY id`, action, nilIfZero(tenantID))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[auditRecord])
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func nilIfZero(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// Every audited admin route leaves exactly one record per request, as the token's subject
// at its issuer, with its request and how it ended: accepted, or refused with the problem
// type. A request without a valid token names no one and leaves none. A redeemed link is
// recorded as the tenant's admin, by user id. No record holds an admin's e-mail or name.
func TestAdminActionsAreAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := audit.Admin(testIssuer, "admin-subject-1")
	one := func(t *testing.T, action string, id uuid.UUID, outcome, problem string) {
		t.Helper()
		recs := e.actions(t, action, id)
		if len(recs) != 1 {
			t.Fatalf("%s on %s: %d records %+v, want 1", action, id, len(recs), recs)
		}
		r := recs[0]
		if r.Actor != admin || r.Outcome != outcome || r.Problem != problem || r.RequestID == "" || !r.HasSource {
			t.Errorf("%s on %s: %+v, want %s by %s with its request and source (problem %q)", action, id, r, outcome, admin, problem)
		}
	}

	created := e.create(t, e.name("Audit Created"))
	one(t, "tenant.create", created, "accepted", "")

	provisioning := e.provisioning(t, e.name("Audit Provisioning"))
	e.do(t, nil, request("DELETE", "/admin/tenants/"+provisioning.String())).status(409)
	one(t, "tenant.archive", provisioning, "refused", "still-provisioning")

	failed := e.failed(t, e.name("Audit Failed"))
	e.do(t, nil, request("POST", "/admin/tenants/"+failed.String()+"/retry")).status(202)
	one(t, "tenant.retry", failed, "accepted", "")

	welcomed := e.activeWelcomed(t, e.name("Audit Welcomed"))
	e.do(t, nil, request("POST", "/admin/tenants/"+welcomed.String()+"/activation-email")).status(200)
	one(t, "activation.resend", welcomed, "accepted", "")
	e.do(t, nil, activationRequest(welcomed.String(), e.linkToken(t, welcomed), goodPassword)).status(200)
	if recs := e.actions(t, "activation.redeem", welcomed); len(recs) != 1 || !strings.HasPrefix(recs[0].Actor, "user:") || recs[0].Outcome != "accepted" {
		t.Errorf("activation.redeem: %+v, want one, by the tenant's admin's user id", recs)
	}
	e.do(t, nil, request("DELETE", "/admin/tenants/"+welcomed.String())).status(200)
	one(t, "tenant.archive", welcomed, "accepted", "")

	// Without a valid token: refused, and no one to record.
	anonymous := request("POST", "/admin/tenants/"+failed.String()+"/retry")
	anonymous.RequestContext.Authorizer = nil
	e.do(t, nil, anonymous).status(401)
	if recs := e.actions(t, "tenant.retry", failed); len(recs) != 1 {
		t.Errorf("an unauthenticated retry was recorded: %+v", recs)
	}

	// Nothing personal anywhere in the trail.
	var trail string
	if err := e.pool.QueryRow(e.ctx, `SELECT coalesce(string_agg(r::text, ' '), '') FROM audit_records r`).Scan(&trail); err != nil {
		t.Fatal(err)
	}
	for _, personal := range []string{adminEmail, adminFirst, adminLast} {
		if strings.Contains(strings.ToLower(trail), strings.ToLower(personal)) {
			t.Errorf("the audit trail holds %q", personal)
		}
	}
	if !strings.Contains(trail, fmt.Sprint(created)) {
		t.Error("the scan read no records")
	}
}
