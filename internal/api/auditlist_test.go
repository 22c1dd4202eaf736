package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
)

type auditListResponse struct {
	Records []struct {
		ID           int64           `json:"id"`
		At           time.Time       `json:"at"`
		Actor        string          `json:"actor"`
		Action       string          `json:"action"`
		Outcome      string          `json:"outcome"`
		Problem      *string         `json:"problem"`
		TenantID     *uuid.UUID      `json:"tenantId"`
		RunID        *uuid.UUID      `json:"runId"`
		RequestID    *string         `json:"requestId"`
		SourceIP     *string         `json:"sourceIp"`
		UserAgent    *string         `json:"userAgent"`
		ExecutionArn *string         `json:"executionArn"`
		Details      json.RawMessage `json:"details"`
	} `json:"records"`
	NextCursor *string `json:"nextCursor"`
}

func (l auditListResponse) ids() []int64 {
	var out []int64
	for _, r := range l.Records {
		out = append(out, r.ID)
	}
	return out
}

// as is req sent by another admin: the token's subject sub.
func as(sub string, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
	req.RequestContext.Authorizer.JWT.Claims["sub"] = sub
	return req
}

// auditGet sends GET /admin/audit with the query's parameters, as API Gateway hands
// them over (decoded).
func auditGet(q url.Values) events.APIGatewayV2HTTPRequest {
	req := request("GET", "/admin/audit")
	req.RawQueryString = q.Encode()
	if len(q) > 0 {
		req.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			req.QueryStringParameters[k] = strings.Join(vs, ",") // API Gateway joins repeats
		}
	}
	return req
}

// auditAll pages through the route with q's filters, limit records at a time, and returns
// every record's id in the order listed.
func (e *env) auditAll(t *testing.T, q url.Values, limit int) []int64 {
	t.Helper()
	q = maps.Clone(q)
	q.Set("limit", fmt.Sprint(limit))
	var ids []int64
	for page := 0; ; page++ {
		var l auditListResponse
		e.do(t, nil, auditGet(q)).status(200).decode(&l)
		if len(l.Records) > limit || (l.NextCursor != nil && len(l.Records) != limit) {
			t.Fatalf("page %d: %d records with next %v, limit %d", page, len(l.Records), l.NextCursor, limit)
		}
		ids = append(ids, l.ids()...)
		if l.NextCursor == nil {
			return ids
		}
		q.Set("cursor", *l.NextCursor)
	}
}

// trailRow is an audit record as the oracle reads it straight from the table.
type trailRow struct {
	ID       int64
	At       time.Time
	Actor    string
	Action   string
	TenantID *uuid.UUID
}

// trail reads the whole trail, newest first (at, then id), to filter in Go: the oracle
// the route's pages are held to.
func (e *env) trail(t *testing.T) []trailRow {
	t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT id, at, actor, action, tenant_id FROM audit_records ORDER BY at DESC, id DESC`)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[trailRow])
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestListAudit holds every combination of the five filters, paged three records at a
// time, to the trail read straight from the table and filtered in Go; then the bad
// inputs, the scopes, and what the records say.
func TestListAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada, bob := audit.Admin(testIssuer, "admin-subject-1"), audit.Admin(testIssuer, "admin-subject-2")
	one := e.failed(t, e.name("Audited One"))
	var two acceptedBody
	e.do(t, nil, as("admin-subject-2", createRequest(registrationJSON(e.name("Audited Two"))))).status(202).decode(&two)
	failed := e.failed(t, e.name("Audited Failed"))
	e.do(t, nil, as("admin-subject-2", request("POST", "/admin/tenants/"+failed.String()+"/retry"))).status(202)
	e.do(t, nil, request("DELETE", "/admin/tenants/"+one.String())).status(200)
	e.do(t, nil, as("admin-subject-2", request("DELETE", "/admin/tenants/"+two.TenantID.String()))).problem(409, "still-provisioning")
	e.do(t, nil, request("POST", "/admin/tenants/"+failed.String()+"/retry")).problem(409, "not-retryable")
	// A transition by the system: the execution claims the retried tenant.
	claim := pipeline.CreateTenantRecordInput{TenantID: failed.String(), ExecutionArn: executionArnNamed(failed.String() + "-r1")}
	if _, err := e.steps.CreateTenantRecord(e.ctx, claim); err != nil {
		t.Fatal(err)
	}

	all := e.trail(t)
	if len(all) < 15 {
		t.Fatalf("the trail holds %d records; the setup made more", len(all))
	}
	// A time range cutting the trail in three: from the sixth newest record's time,
	// inclusive, to the third newest's, exclusive.
	from, to := all[5].At, all[2].At
	if !from.Before(to) {
		t.Fatalf("records 6 and 3 share a time: %v", from)
	}
	type filter struct {
		key, value string
		match      func(trailRow) bool
	}
	filters := []filter{
		{"tenantId", failed.String(), func(r trailRow) bool { return r.TenantID != nil && *r.TenantID == failed }},
		{"actor", bob, func(r trailRow) bool { return r.Actor == bob }},
		{"action", "tenant.retry", func(r trailRow) bool { return r.Action == "tenant.retry" }},
		{"from", from.Format(time.RFC3339Nano), func(r trailRow) bool { return !r.At.Before(from) }},
		{"to", to.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano), func(r trailRow) bool { return r.At.Before(to) }},
	}
	for mask := range 1 << len(filters) {
		q := url.Values{}
		var on []filter
		for i, f := range filters {
			if mask&(1<<i) != 0 {
				q.Set(f.key, f.value)
				on = append(on, f)
			}
		}
		want := []int64{}
		for _, r := range all {
			if !slices.ContainsFunc(on, func(f filter) bool { return !f.match(r) }) {
				want = append(want, r.ID)
			}
		}
		t.Run("filters "+q.Encode(), func(t *testing.T) {
			t.Parallel()
			if got := append([]int64{}, e.auditAll(t, q, 3)...); !slices.Equal(got, want) {
				t.Errorf("ids %v, want %v", got, want)
			}
		})
	}
	// Each filter alone finds something, so that no combination passes by being empty.
	for _, f := range filters {
		if !slices.ContainsFunc(all, f.match) || slices.IndexFunc(all, func(r trailRow) bool { return !f.match(r) }) < 0 {
			t.Errorf("filter %s=%s selects all or nothing", f.key, f.value)
		}
	}

	t.Run("default page", func(t *testing.T) {
		t.Parallel()
		var l auditListResponse
		e.do(t, nil, auditGet(nil)).status(200).decode(&l)
		if len(l.Records) != min(50, len(all)) || l.Records[0].ID != all[0].ID {
			t.Errorf("%d records, first %d; want %d, first %d", len(l.Records), l.Records[0].ID, min(50, len(all)), all[0].ID)
		}
	})

	t.Run("what a record says", func(t *testing.T) {
		t.Parallel()
		var l auditListResponse
		e.do(t, nil, auditGet(url.Values{"action": {"tenant.retry"}, "actor": {ada}})).status(200).decode(&l)
		if len(l.Records) != 1 {
			t.Fatalf("records %+v, want the refused retry alone", l.Records)
		}
		r := l.Records[0]
		if r.Outcome != "refused" || r.Problem == nil || *r.Problem != "not-retryable" || r.TenantID == nil || *r.TenantID != failed ||
			r.RequestID == nil || r.SourceIP == nil || !strings.HasPrefix(*r.SourceIP, "198.") || string(r.Details) != "{}" {
			t.Errorf("record %+v", r)
		}
		e.do(t, nil, auditGet(url.Values{"action": {"tenant.provisioning"}, "tenantId": {failed.String()}})).status(200).decode(&l)
		var details map[string]any
		if len(l.Records) != 1 || json.Unmarshal(l.Records[0].Details, &details) != nil {
			t.Fatalf("the claim's transition: %+v", l.Records)
		}
		if r := l.Records[0]; !strings.HasPrefix(r.Actor, "system:") || r.ExecutionArn == nil || *r.ExecutionArn != claim.ExecutionArn ||
			details["from"] != "PENDING" || details["to"] != "PROVISIONING" {
			t.Errorf("the claim's transition: %+v, details %v", r, details)
		}
	})

	t.Run("read scope", func(t *testing.T) {
		t.Parallel()
		req := auditGet(nil)
		req.RequestContext.Authorizer.JWT.Claims["scope"] = "openid " + readScope
		e.do(t, nil, req).status(200)
		req = auditGet(nil)
		req.RequestContext.Authorizer.JWT.Claims["scope"] = "openid"
		e.do(t, nil, req).problem(403, "insufficient-scope")
		req = auditGet(nil)
		req.RequestContext.Authorizer = nil
		e.do(t, nil, req).problem(401, "unauthenticated")
	})

	var first auditListResponse
	e.do(t, nil, auditGet(url.Values{"limit": {"2"}})).status(200).decode(&first)
	var firstByBob auditListResponse
	e.do(t, nil, auditGet(url.Values{"limit": {"1"}, "actor": {bob}})).status(200).decode(&firstByBob)
	invalid := []struct {
		name  string
		q     url.Values
		field []string
	}{
		{"limit zero", url.Values{"limit": {"0"}}, []string{"limit"}},
		{"limit over 200", url.Values{"limit": {"201"}}, []string{"limit"}},
		{"limit not a number", url.Values{"limit": {"ten"}}, []string{"limit"}},
		{"limit repeated", url.Values{"limit": {"1", "2"}}, []string{"limit"}},
		{"tenant not a uuid", url.Values{"tenantId": {"acme"}}, []string{"tenantId"}},
		{"tenant in braces", url.Values{"tenantId": {"{" + one.String() + "}"}}, []string{"tenantId"}},
		{"actor without a kind", url.Values{"actor": {"ada"}}, []string{"actor"}},
		{"actor too long", url.Values{"actor": {"admin:" + strings.Repeat("x", 512)}}, []string{"actor"}},
		{"action unknown shape", url.Values{"action": {"Tenant Create"}}, []string{"action"}},
		{"from not a time", url.Values{"from": {"yesterday"}}, []string{"from"}},
		{"from without a zone", url.Values{"from": {"2025-01-02T03:04:05"}}, []string{"from"}},
		{"to a date alone", url.Values{"to": {"2025-01-02"}}, []string{"to"}},
		{"to before from", url.Values{"from": {"2025-01-02T00:00:00Z"}, "to": {"2025-01-01T00:00:00Z"}}, []string{"to"}},
		{"to equal to from", url.Values{"from": {"2025-01-02T00:00:00Z"}, "to": {"2025-01-02T02:00:00+02:00"}}, []string{"to"}},
		{"unknown parameter", url.Values{"tenant": {one.String()}}, []string{"query"}},
		{"two bad", url.Values{"limit": {"-1"}, "from": {"now"}}, []string{"limit", "from"}},
		{"garbage cursor", url.Values{"cursor": {"abc"}}, []string{"cursor"}},
		{"tenants list's cursor", url.Values{"cursor": {tenantsCursor(t, e)}}, []string{"cursor"}},
		{"cursor replayed with a filter", url.Values{"actor": {bob}, "cursor": {*first.NextCursor}}, []string{"cursor"}},
		{"filtered cursor without its filter", url.Values{"cursor": {*firstByBob.NextCursor}}, []string{"cursor"}},
		{"filtered cursor with another filter", url.Values{"actor": {ada}, "cursor": {*firstByBob.NextCursor}}, []string{"cursor"}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := e.do(t, nil, auditGet(tt.q)).problem(400, "validation")
			if !slices.Equal(p.fields(), tt.field) {
				t.Errorf("fields = %v, want %v", p.fields(), tt.field)
			}
		})
	}

	t.Run("no personal data", func(t *testing.T) {
		t.Parallel()
		var l auditListResponse
		resp := e.do(t, nil, auditGet(url.Values{"limit": {"200"}})).status(200)
		resp.decode(&l)
		if len(l.Records) != len(all) {
			t.Errorf("%d records, want all %d", len(l.Records), len(all))
		}
		for _, s := range []string{adminEmail, adminFirst, adminLast} {
			if strings.Contains(strings.ToLower(resp.Body), strings.ToLower(s)) {
				t.Errorf("the trail's answer holds %q", s)
			}
		}
	})
}

func tenantsCursor(t *testing.T, e *env) string {
	t.Helper()
	l := e.list(t, "?limit=1")
	if l.NextCursor == nil {
		t.Fatal("one tenant listed; the setup made more")
	}
	return *l.NextCursor
}

// TestListAuditWhileAppending pages through the trail while other requests keep onboarding
// tenants (each appends records): every record that existed before the first page comes
// back exactly once, in (at, id) descending order, and none twice.
func TestListAuditWhileAppending(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const before, writers, each = 15, 3, 8
	for range before {
		e.create(t, e.name("Before"))
	}
	existing := e.trail(t)

	var wg sync.WaitGroup
	tick := make(chan struct{})
	statuses := make(chan int, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				<-tick
				statuses <- e.do(t, nil, createRequest(registrationJSON(e.name("During")))).StatusCode
			}
		})
	}
	seen := map[int64]int{}
	type key struct {
		at time.Time
		id int64
	}
	var order []key
	q := url.Values{"limit": {"4"}}
	for {
		var l auditListResponse
		e.do(t, nil, auditGet(q)).status(200).decode(&l)
		for _, r := range l.Records {
			seen[r.ID]++
			order = append(order, key{r.At, r.ID})
		}
		if l.NextCursor == nil {
			break
		}
		q.Set("cursor", *l.NextCursor)
		for range writers {
			tick <- struct{}{}
		}
	}
	close(tick)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 202 {
			t.Errorf("concurrent create answered %d", s)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("record %d listed %d times", id, n)
		}
	}
	for _, r := range existing {
		if seen[r.ID] != 1 {
			t.Errorf("record %d existed before the first page but was listed %d times", r.ID, seen[r.ID])
		}
	}
	for i := 1; i < len(order); i++ {
		if p, c := order[i-1], order[i]; c.at.After(p.at) || c.at.Equal(p.at) && c.id >= p.id {
			t.Errorf("record %d is not after %d in (at, id) descending order", c.id, p.id)
		}
	}
	if after := len(e.trail(t)); after <= len(existing) {
		t.Errorf("the writers appended nothing (%d records before, %d after)", len(existing), after)
	}
}

// TestGetTenantCreatedAndArchivedBy: the tenant's record names who created it and who
// archived it, as the trail's actors (ids, never names or e-mail), and null for a tenant
// from before the trail.
func TestGetTenantCreatedAndArchivedBy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada, bob := audit.Admin(testIssuer, "admin-subject-1"), audit.Admin(testIssuer, "admin-subject-2")
	get := func(t *testing.T, id uuid.UUID) tenantResponse {
		t.Helper()
		var b tenantResponse
		e.do(t, nil, request("GET", "/admin/tenants/"+id.String())).status(200).decode(&b)
		return b
	}

	live := e.create(t, e.name("Trail Live"))
	archived := e.active(t, e.name("Trail Archived"))
	e.do(t, nil, as("admin-subject-2", request("DELETE", "/admin/tenants/"+archived.String()))).status(200)
	e.do(t, nil, request("DELETE", "/admin/tenants/"+archived.String())).status(200) // again: no transition

	// Reserved other than through the route (as seed.sql does): its transition names it.
	var reserved uuid.UUID
	err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(e.ctx, `SELECT set_config('tp.audit_actor', 'system:ReconcileFunction', true)`); err != nil {
			return err
		}
		return tx.QueryRow(e.ctx, insertTenantSQL, "Trail Reserved", "trail-reserved").Scan(&reserved)
	})
	if err != nil {
		t.Fatal(err)
	}

	// From before the trail: inserted and archived with the triggers off.
	var old uuid.UUID
	err = pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(e.ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
		if err := tx.QueryRow(e.ctx, insertTenantSQL, "Trail Old", "trail-old").Scan(&old); err != nil {
			return err
		}
		_, err := tx.Exec(e.ctx, `UPDATE tenants SET status = 'ARCHIVED', archived_at = now() WHERE id = $1`, old)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	b := get(t, live)
	if b.CreatedBy == nil || b.CreatedBy.Actor != ada || b.CreatedBy.At.IsZero() || b.ArchivedBy != nil {
		t.Errorf("live: createdBy %+v, archivedBy %+v; want %s, null", b.CreatedBy, b.ArchivedBy, ada)
	}
	b = get(t, archived)
	if b.CreatedBy == nil || b.CreatedBy.Actor != ada || b.ArchivedBy == nil || b.ArchivedBy.Actor != bob ||
		b.ArchivedAt == nil || b.ArchivedBy.At.Sub(*b.ArchivedAt).Abs() > time.Minute || b.ArchivedBy.At.Before(b.CreatedBy.At) {
		t.Errorf("archived: createdBy %+v, archivedBy %+v, archivedAt %v; want %s, then %s", b.CreatedBy, b.ArchivedBy, b.ArchivedAt, ada, bob)
	}
	b = get(t, reserved)
	if b.CreatedBy == nil || b.CreatedBy.Actor != "system:ReconcileFunction" || b.ArchivedBy != nil {
		t.Errorf("reserved: createdBy %+v, archivedBy %+v", b.CreatedBy, b.ArchivedBy)
	}
	b = get(t, old)
	if b.CreatedBy != nil || b.ArchivedBy != nil || b.Status != "ARCHIVED" || b.ArchivedAt == nil {
		t.Errorf("from before the trail: createdBy %+v, archivedBy %+v, status %s", b.CreatedBy, b.ArchivedBy, b.Status)
	}
	for _, id := range []uuid.UUID{live, archived, reserved, old} {
		b := get(t, id)
		for _, by := range []*actorAt{b.CreatedBy, b.ArchivedBy} {
			if by != nil && (strings.Contains(by.Actor, "@") || strings.Contains(strings.ToLower(by.Actor), strings.ToLower(adminFirst))) {
				t.Errorf("%s: an actor with personal data: %q", id, by.Actor)
			}
		}
	}
}

// insertTenantSQL reserves a tenant as seed.sql does, by SQL, and returns its id.
const insertTenantSQL = `INSERT INTO tenants (id, name, slug, status, admin_email, admin_first_name, admin_last_name)
	VALUES (gen_random_uuid(), $1, $2, 'PENDING', '` + adminEmail + `', '` + adminFirst + `', '` + adminLast + `') RETURNING id`
