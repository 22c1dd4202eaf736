package bench

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// Targets of issue 22 for the audit trail.
const (
	auditCostTarget = 0.95                 // onboarding with the trail ≥ 95 % of without
	auditListP99    = 5 * time.Millisecond // GET /admin/audit p99 at 1,000,000 records
)

// auditTriggers are the control plane's triggers that write the trail's transition
// records (migrations 012 and 013).
const auditTriggers = "tenants_audit_reserved, tenants_audit_transition, tenants_audit_upgraded"

// runnerStarter starts provisioning executions in the rig's local engine, as Step Functions
// does for the create route.
type runnerStarter struct{ rig *pipelineRig }

func (s runnerStarter) Start(ctx context.Context, id uuid.UUID, name string) (api.Started, error) {
	if _, _, err := s.rig.runner.StartNamed(ctx, name, id); err != nil {
		return api.Started{}, err
	}
	return api.Started{ExecutionArn: "arn:aws:states:local:000000000000:execution:bench:" + name}, nil
}

// onboard is one onboarding as an admin makes it: POST /admin/tenants through the create
// route's handler, then its execution to the end.
func (r *pipelineRig) onboard(ctx context.Context, h *api.Handler) error {
	i := r.seq.Add(1)
	body, _ := json.Marshal(map[string]string{"name": fmt.Sprintf("Bench Audit Clinic %s %d", r.prefix, i),
		"adminEmail": fmt.Sprintf("admin%d@bench.example.com", i), "adminFirstName": "Ada", "adminLastName": "Bench"})
	req := adminRequest("/admin/tenants", nil, nil)
	req.RequestContext.HTTP.Method = http.MethodPost
	req.RequestContext.HTTP.SourceIP = "198.51.100.7"
	req.RequestContext.HTTP.UserAgent = "bench"
	req.Headers = map[string]string{"content-type": "application/json"}
	req.Body = string(body)
	resp, err := h.CreateTenant(ctx, req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("bench: create answered %d: %s", resp.StatusCode, resp.Body)
	}
	var accepted struct {
		TenantID uuid.UUID `json:"tenantId"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &accepted); err != nil {
		return err
	}
	run, _, err := r.runner.Start(ctx, accepted.TenantID)
	if err != nil {
		return err
	}
	if ex := run.Wait(); ex.Status != "SUCCEEDED" {
		return fmt.Errorf("bench: execution %s ended %s: %s %s", ex.Name, ex.Status, ex.Error, ex.Cause)
	}
	return nil
}

// measureAuditCost onboards n tenants with the trail and n without it, c at a time, in
// alternating rounds of the same run (so that both see the same machine and the same
// growing database). Without the trail, nothing of it is done: the scratch database's
// transition triggers are disabled (ALTER TABLE … DISABLE TRIGGER, as its owner) and
// every call runs in an audit.Unrecorded context, so no transaction names an actor (no
// set_config round trip, no transaction around a lone statement) and the create route
// records no request. Each round's records are counted: a round without the trail that
// wrote one, or one with it that wrote fewer than four per tenant, fails the bench.
func measureAuditCost(ctx context.Context, cfg Config, rig *pipelineRig, n, c int) ([]Result, error) {
	h, err := api.New(api.Config{Store: rig.store, Starter: runnerStarter{rig}, RequiredScope: "tenants/admin",
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	pool := rig.stack.Pool
	records := func() (int64, error) {
		var k int64
		return k, pool.QueryRow(ctx, `SELECT count(*) FROM audit_records`).Scan(&k)
	}
	setTrail := func(on bool) error {
		verb := "DISABLE"
		if on {
			verb = "ENABLE"
		}
		for _, t := range strings.Split(auditTriggers, ", ") {
			if _, err := pool.Exec(ctx, "ALTER TABLE tenants "+verb+" TRIGGER "+t); err != nil {
				return err
			}
		}
		return nil
	}
	defer func() { _ = setTrail(true) }()

	cfg.progress("audit cost: warm-up, %d tenants each way", c)
	// Many short rounds, each a pair of a round with and one without, adjacent in time: the
	// ratio is the median of the pairs' ratios, which a machine that speeds up or slows
	// down between rounds (this one does, by a third at times) moves far less than a ratio
	// of totals.
	const rounds = 10
	per := max(n/rounds, 1)
	var with, without time.Duration
	var pairs []float64
	var pair [2]time.Duration // this round's, with and without
	for round := -1; round < rounds; round++ {
		count := per
		if round < 0 {
			count = c // the warm-up, untimed
		}
		// Alternate which goes first, so that neither always inherits the other's
		// after-effects (WAL, autovacuum, checkpoints).
		for _, on := range [][2]bool{{true, false}, {false, true}}[(round+2)%2] {
			if err := setTrail(on); err != nil {
				return nil, err
			}
			octx := ctx
			if !on {
				octx = audit.Unrecorded(ctx)
			}
			before, err := records()
			if err != nil {
				return nil, err
			}
			if round >= 0 {
				cfg.progress("audit cost: round %d, %d tenants, trail %v", round+1, count, on)
			}
			start := time.Now()
			if err := inParallel(count, c, func(_, _ int) error { return rig.onboard(octx, h) }); err != nil {
				return nil, err
			}
			took := time.Since(start)
			after, err := records()
			if err != nil {
				return nil, err
			}
			switch wrote := after - before; {
			case !on && wrote != 0:
				return nil, fmt.Errorf("bench: onboarding without the trail wrote %d audit records", wrote)
			case on && wrote < 4*int64(count):
				return nil, fmt.Errorf("bench: onboarding %d tenants with the trail wrote %d audit records, want ≥ 4 each", count, wrote)
			}
			if round < 0 {
				continue
			}
			if on {
				with += took
				pair[0] = took
			} else {
				without += took
				pair[1] = took
			}
		}
		if round >= 0 {
			pairs = append(pairs, pair[1].Seconds()/pair[0].Seconds()) // throughput with / without
		}
	}
	total := per * rounds
	r := newResult(fmt.Sprintf("onboarding with the audit trail c=%d", c), perMinute(total, with), "tenants/min",
		perMinute(total, without), fmt.Sprintf("without the trail, same run; ratio: median of %d paired rounds", rounds))
	slices.Sort(pairs)
	r.Ratio = pairs[len(pairs)/2]
	if len(pairs)%2 == 0 {
		r.Ratio = (pairs[len(pairs)/2-1] + pairs[len(pairs)/2]) / 2
	}
	r.Target, r.Margin = fmt.Sprintf("ratio ≥ %.2f", auditCostTarget), r.Ratio-auditCostTarget
	r.Met = ptr(r.Margin >= 0)
	return []Result{r}, nil
}

// The seeded trail's shape: admins, tenants, and a tenant's life in ten records.
const (
	seedAdmins  = 25
	seedPerLife = 10
)

// seedAudit brings audit_records to size with one INSERT … SELECT: a year of a
// long-lived installation, ten records per tenant's life (its reservation and creation by
// one of 25 admins, the claim and activation by the steps, two upgrades, a resent link, a
// redeem by the tenant's admin, an archive request and its transition), each tenant's
// records spread over the year as upgrades and archives come months apart.
func seedAudit(ctx context.Context, pool *pgxpool.Pool, size int) (tenants int, err error) {
	var have int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_records`).Scan(&have); err != nil {
		return 0, err
	}
	tenants = max((size-have)/seedPerLife, 1)
	_, err = pool.Exec(ctx, `
		INSERT INTO audit_records (at, actor, action, outcome, tenant_id, request_id, source_ip, user_agent, execution_arn, details)
		SELECT now() - interval '1 year' + (g * (interval '1 year' / $1::int)),
		       CASE WHEN g % 10 IN (2, 3, 4, 5) THEN 'system:' || (ARRAY['CreateTenantRecordFunction', 'ActivateTenantFunction',
		                 'MigrateTenantBatchFunction', 'MigrateTenantBatchFunction'])[g % 10 - 1]
		            WHEN g % 10 = 7 THEN 'user:' || md5('u' || (g % $2::int))::uuid
		            ELSE 'admin:https://idp.example/#admin-' || ((g / 10) % `+fmt.Sprint(seedAdmins)+`) END,
		       (ARRAY['tenant.reserved', 'tenant.create', 'tenant.provisioning', 'tenant.activated', 'tenant.upgraded',
		              'tenant.upgraded', 'activation.resend', 'activation.redeem', 'tenant.archive', 'tenant.archived'])[1 + g % 10],
		       'accepted', md5('t' || (g % $2::int))::uuid,
		       CASE WHEN g % 10 IN (1, 6, 8) THEN 'req-' || g END,
		       CASE WHEN g % 10 IN (1, 6, 8) THEN '198.51.100.7'::inet END,
		       CASE WHEN g % 10 IN (1, 6, 8) THEN 'Mozilla/5.0 (bench)' END,
		       CASE WHEN g % 10 IN (2, 3) THEN 'arn:aws:states:us-east-1:000000000000:execution:tenant-provisioning:' || g END,
		       '{}'
		FROM generate_series(1, $1::int - $3::int) AS g`, size, tenants, have)
	return tenants, err
}

// auditQueryKind is one kind of request in the list's mix.
type auditQueryKind struct {
	name   string
	weight int
	query  func(r *rand.Rand) map[string]string
}

// measureAuditList times GET /admin/audit at size records over a mix of filter
// combinations an auditor and a dashboard make, each first page followed, as often as
// not, by the next pages through its cursor; store.ListAudit alone beside it. Every one of
// the 32 combinations of the five filters is explained first: a plan that reads
// audit_records without an index fails the bench.
func measureAuditList(ctx context.Context, cfg Config, pool *pgxpool.Pool, dbURL string, size, reqs int) ([]Result, error) {
	cfg.progress("audit list: seeding %d records", size)
	began := time.Now()
	tenants, err := seedAudit(ctx, pool, size)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) audit_records"); err != nil {
		return nil, err
	}
	_, _ = pool.Exec(ctx, "CHECKPOINT")
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM audit_records").Scan(&size); err != nil {
		return nil, err
	}
	cfg.progress("audit list: %d records in %s", size, time.Since(began).Round(time.Second))

	st := store.New(pool)
	h, err := api.New(api.Config{Store: st, RequiredScope: "tenants/admin", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	if err := explainAudit(ctx, dbURL); err != nil {
		return nil, err
	}

	now := time.Now()
	admin := func(r *rand.Rand) string {
		return fmt.Sprintf("admin:https://idp.example/#admin-%d", r.IntN(seedAdmins))
	}
	tenant := func(r *rand.Rand) string {
		return seededTenant(r.IntN(tenants))
	}
	day := func(r *rand.Rand) (string, string) {
		from := now.AddDate(0, 0, -1-r.IntN(360))
		return from.Format(time.RFC3339), from.Add(24 * time.Hour).Format(time.RFC3339)
	}
	actions := []string{"tenant.create", "tenant.archive", "tenant.archived", "tenant.activated", "activation.resend", "tenant.failed"}
	mix := []auditQueryKind{
		{"newest", 10, func(r *rand.Rand) map[string]string { return map[string]string{} }},
		{"tenant", 20, func(r *rand.Rand) map[string]string { return map[string]string{"tenantId": tenant(r)} }},
		{"admin", 12, func(r *rand.Rand) map[string]string { return map[string]string{"actor": admin(r)} }},
		{"system actor", 4, func(r *rand.Rand) map[string]string {
			return map[string]string{"actor": "system:MigrateTenantBatchFunction"}
		}},
		{"action", 10, func(r *rand.Rand) map[string]string {
			return map[string]string{"action": actions[r.IntN(len(actions))]}
		}},
		{"admin and action", 8, func(r *rand.Rand) map[string]string {
			return map[string]string{"actor": admin(r), "action": actions[r.IntN(3)]}
		}},
		{"last day", 8, func(r *rand.Rand) map[string]string {
			return map[string]string{"from": now.Add(-24 * time.Hour).Format(time.RFC3339)}
		}},
		{"a past day", 8, func(r *rand.Rand) map[string]string { f, t := day(r); return map[string]string{"from": f, "to": t} }},
		{"before a time", 4, func(r *rand.Rand) map[string]string { _, t := day(r); return map[string]string{"to": t} }},
		{"admin, a past day", 6, func(r *rand.Rand) map[string]string {
			f, t := day(r)
			return map[string]string{"actor": admin(r), "from": f, "to": t}
		}},
		{"action, a past day", 6, func(r *rand.Rand) map[string]string {
			f, t := day(r)
			return map[string]string{"action": actions[r.IntN(len(actions))], "from": f, "to": t}
		}},
		{"tenant, since a day", 4, func(r *rand.Rand) map[string]string {
			f, _ := day(r)
			return map[string]string{"tenantId": tenant(r), "from": f}
		}},
	}
	var weights int
	for _, k := range mix {
		weights += k.weight
	}
	// The requests, drawn once so that the handler and the store see the same ones: a
	// first page, and with even odds up to two more pages after it.
	rng := rand.New(rand.NewPCG(22, 3))
	type request struct {
		kind  string
		query map[string]string
	}
	var plan []request
	for len(plan) < reqs {
		w := rng.IntN(weights)
		var k auditQueryKind
		for _, k = range mix {
			if w -= k.weight; w < 0 {
				break
			}
		}
		q := k.query(rng)
		q["limit"] = "50"
		plan = append(plan, request{k.name, q})
		for range rng.IntN(3) {
			plan = append(plan, request{k.name + ", next page", nil}) // the previous request's next page
		}
	}
	plan = plan[:reqs]

	roundTrip, err := timeN(reqs, func() error { _, err := pool.Exec(ctx, "SELECT 1"); return err })
	if err != nil {
		return nil, err
	}
	rtP99 := ms(percentile(roundTrip, 99))
	cfg.progress("audit list: %d records, %d requests through the handler", size, reqs)
	var last map[string]string
	var next string
	i := 0
	handler, err := timeN(reqs, func() error {
		q := plan[i].query
		i++
		if q == nil {
			if next == "" {
				q = last // the previous listing had no next page: its first page again
			} else {
				q = cloneQuery(last)
				q["cursor"] = next
			}
		} else {
			last = q
		}
		resp, err := h.ListAudit(ctx, adminRequest("/admin/audit", q, nil))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("bench: audit list answered %d: %s", resp.StatusCode, resp.Body)
		}
		var page struct {
			NextCursor *string `json:"nextCursor"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &page); err != nil {
			return err
		}
		next = ""
		if page.NextCursor != nil {
			next = *page.NextCursor
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cfg.progress("audit list: %d records, %d requests to store.ListAudit", size, reqs)
	i = 0
	db, err := timeN(reqs, func() error {
		q := plan[i].query
		i++
		aq := store.AuditQuery{Limit: 50}
		if q == nil {
			q = last
			aq.Cursor = next
		} else {
			last, next = q, ""
		}
		parsed, err := parseAuditQuery(q)
		if err != nil {
			return err
		}
		parsed.Limit, parsed.Cursor = aq.Limit, aq.Cursor
		p, err := st.ListAudit(ctx, parsed)
		next = p.NextCursor
		return err
	})
	if err != nil {
		return nil, err
	}
	byKind := map[string][]time.Duration{}
	for j, d := range handler {
		byKind[plan[j].kind] = append(byKind[plan[j].kind], d)
	}
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		ds := byKind[k]
		cfg.progress("audit list: %-32s %4d requests, p50 %.2f ms, p99 %.2f ms", k, len(ds), ms(percentile(ds, 50)), ms(percentile(ds, 99)))
	}
	hr := newResult(fmt.Sprintf("audit list handler p99, %d records, mixed filters and pages", size), ms(percentile(handler, 99)), "ms",
		rtP99, "SELECT 1 round trip p99")
	hr.Target, hr.Margin = "≤ 5 ms", ms(auditListP99)-hr.Value
	hr.Met = ptr(hr.Margin >= 0)
	h50 := newResult(fmt.Sprintf("audit list handler p50, %d records", size), ms(percentile(handler, 50)), "ms",
		ms(percentile(roundTrip, 50)), "SELECT 1 round trip p50")
	dr := newResult(fmt.Sprintf("audit list DB p99, %d records", size), ms(percentile(db, 99)), "ms", rtP99, "SELECT 1 round trip p99")
	return []Result{hr, h50, dr}, nil
}

// seededTenant is the id seedAudit gave its i'th tenant (md5('t' || i)::uuid).
func seededTenant(i int) string {
	return uuid.UUID(md5.Sum([]byte("t" + fmt.Sprint(i)))).String()
}

func cloneQuery(q map[string]string) map[string]string {
	out := make(map[string]string, len(q))
	for k, v := range q {
		out[k] = v
	}
	return out
}

// parseAuditQuery reads the mix's filters into a store query, as the route does.
func parseAuditQuery(q map[string]string) (store.AuditQuery, error) {
	aq := store.AuditQuery{Actor: q["actor"], Action: q["action"]}
	if v := q["tenantId"]; v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return aq, err
		}
		aq.TenantID = &id
	}
	for k, into := range map[string]*time.Time{"from": &aq.From, "to": &aq.To} {
		if v := q[k]; v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return aq, err
			}
			*into = t
		}
	}
	return aq, nil
}

// explainAudit runs store.ListAudit once for each of the 32 combinations of its five
// filters, on a connection that captures the statement, and explains each statement with
// its arguments: a plan with a sequential scan of audit_records fails the bench.
func explainAudit(ctx context.Context, dbURL string) error {
	cc, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	tr := &lastQuery{}
	cc.Tracer = tr
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	st := store.New(conn)
	id := uuid.MustParse(seededTenant(7))
	from := time.Now().AddDate(0, -6, 0)
	for mask := range 32 {
		q := store.AuditQuery{}
		if mask&1 != 0 {
			q.TenantID = &id
		}
		if mask&2 != 0 {
			q.Actor = "admin:https://idp.example/#admin-3"
		}
		if mask&4 != 0 {
			q.Action = "tenant.archive"
		}
		if mask&8 != 0 {
			q.From = from
		}
		if mask&16 != 0 {
			q.To = from.Add(24 * time.Hour)
		}
		if _, err := st.ListAudit(ctx, q); err != nil {
			return err
		}
		sql, args := tr.get()
		rows, err := conn.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if plan := strings.Join(lines, "\n"); strings.Contains(plan, "Seq Scan") {
			return fmt.Errorf("bench: the audit list reads audit_records without an index for filters %+v:\n%s", q, plan)
		}
	}
	return nil
}

// lastQuery is a pgx tracer that keeps the last statement a connection sent.
type lastQuery struct {
	mu   sync.Mutex
	sql  string
	args []any
}

func (l *lastQuery) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !strings.HasPrefix(d.SQL, "EXPLAIN") {
		l.mu.Lock()
		l.sql, l.args = d.SQL, d.Args
		l.mu.Unlock()
	}
	return ctx
}

func (l *lastQuery) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (l *lastQuery) get() (string, []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sql, l.args
}
