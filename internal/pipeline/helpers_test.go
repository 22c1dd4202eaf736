package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testlog"
)

type env struct {
	t    testing.TB
	ctx  context.Context
	pool *pgxpool.Pool
	// stepPool is the steps' own pool of one connection, as a step's Lambda has
	// (DB_MAX_CONNS=1): a step that needed a second connection at once would hang here.
	stepPool *pgxpool.Pool
	store    *store.Store
	steps    *Steps
	logs     *testlog.Buffer
}

func newEnv(t testing.TB) *env {
	t.Helper()
	pool, url := testdb.NewWithURL(t)
	log, logs := testlog.JSON()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	stepPool, err := database.Open(ctx, database.Config{DSN: url, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stepPool.Close)
	return &env{t: t, ctx: ctx, pool: pool, stepPool: stepPool, store: store.New(pool), steps: New(stepPool, log), logs: logs}
}

// registration returns distinctive personal data, so leak checks can search for it.
func registration(name string) tenant.Registration {
	return tenant.Registration{
		Name:           name,
		AdminEmail:     "dr.quinn.zz9@clinic-example.org",
		AdminFirstName: "Quinnzz",
		AdminLastName:  "Medicinezz",
	}
}

func (e *env) reserve(name string) tenant.Tenant {
	e.t.Helper()
	reg, err := registration(name).Normalize()
	if err != nil {
		e.t.Fatalf("normalize: %v", err)
	}
	tn, err := e.store.Reserve(e.ctx, reg)
	if err != nil {
		e.t.Fatalf("reserve %q: %v", name, err)
	}
	return tn
}

func executionArn(id string) string {
	return "arn:aws:states:us-east-1:000000000000:execution:tenant-provisioning:" + id
}

// testContractID is a well-formed Soroban contract address.
const testContractID = "CBAS2W53ANLWBTYUF6UP4MCOWMLIAURLZZQH73KQFZ2HVCLWWFDWZB73"

type stepCase struct {
	name string
	run  func(ctx context.Context, s *Steps, id string) (any, error)
}

// dbSteps are the database steps in pipeline order (the contract deploy and the e-mail
// step, which come with other packages, are left out).
var dbSteps = []stepCase{
	{catalog.CreateTenantRecord.Log, func(ctx context.Context, s *Steps, id string) (any, error) {
		return s.CreateTenantRecord(ctx, CreateTenantRecordInput{TenantID: id, ExecutionArn: executionArn(id)})
	}},
	{catalog.CreateSchema.Log, func(ctx context.Context, s *Steps, id string) (any, error) {
		return s.CreateSchema(ctx, TenantInput{TenantID: id, ExecutionArn: executionArn(id)})
	}},
	{catalog.RunMigrations.Log, func(ctx context.Context, s *Steps, id string) (any, error) {
		return s.RunMigrations(ctx, TenantInput{TenantID: id, ExecutionArn: executionArn(id)})
	}},
	{catalog.SeedRolesAndUser.Log, func(ctx context.Context, s *Steps, id string) (any, error) {
		return s.SeedRolesAndUser(ctx, TenantInput{TenantID: id, ExecutionArn: executionArn(id)})
	}},
	{catalog.StoreContractAddress.Log, func(ctx context.Context, s *Steps, id string) (any, error) {
		return s.StoreContractAddress(ctx, StoreContractAddressInput{TenantID: id, ExecutionArn: executionArn(id), ContractID: testContractID})
	}},
	{catalog.ActivateTenant.Log, func(ctx context.Context, s *Steps, id string) (any, error) {
		return s.ActivateTenant(ctx, TenantInput{TenantID: id, ExecutionArn: executionArn(id)})
	}},
}

// runSteps runs dbSteps[0..n) for the tenant and fails the test on any error.
func (e *env) runSteps(id uuid.UUID, n int) []any {
	e.t.Helper()
	var outs []any
	for _, st := range dbSteps[:n] {
		out, err := st.run(e.ctx, e.steps, id.String())
		if err != nil {
			e.t.Fatalf("%s: %v", st.name, err)
		}
		outs = append(outs, out)
	}
	return outs
}

func (e *env) provision(name string) tenant.Tenant {
	e.t.Helper()
	tn := e.reserve(name)
	e.runSteps(tn.ID, len(dbSteps))
	got, err := e.store.Get(e.ctx, tn.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// state is everything a step can change, for comparing runs.
type state struct {
	Status, SchemaName, ExecutionArn, ContractID, Error string
	Completed                                           bool
	SchemaExists, RoleExists                            bool
	SchemaComment, RoleComment                          string
	RoleUsage                                           bool
	Tables                                              []string
	Version                                             int32
	TenantRoles                                         []string
	Users, PendingUsers, AuditRows                      int
	PasswordHash                                        string
}

func (e *env) state(id uuid.UUID) state {
	e.t.Helper()
	tn, err := e.store.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	s := state{Status: string(tn.Status), SchemaName: tn.SchemaName, ExecutionArn: tn.ExecutionArn,
		ContractID: tn.ContractID, Error: tn.ProvisioningError, Completed: tn.CompletedAt != nil}
	if tn.SchemaName == "" {
		return s
	}
	s.SchemaExists, s.RoleExists = testdb.Exists(e.ctx, e.t, e.pool, tn.SchemaName)
	q := func(sql string, dst ...any) {
		e.t.Helper()
		if err := e.pool.QueryRow(e.ctx, sql, tn.SchemaName).Scan(dst...); err != nil {
			e.t.Fatalf("%s: %v", sql, err)
		}
	}
	if s.SchemaExists {
		q(`SELECT coalesce(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace WHERE nspname = $1`, &s.SchemaComment)
		rows, err := e.pool.Query(e.ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, tn.SchemaName)
		if err != nil {
			e.t.Fatal(err)
		}
		if s.Tables, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			e.t.Fatal(err)
		}
	}
	if s.RoleExists {
		q(`SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = $1`, &s.RoleComment)
	}
	if s.SchemaExists && s.RoleExists {
		q(`SELECT has_schema_privilege($1::text, $1::text, 'USAGE')`, &s.RoleUsage)
	}
	ident := pgx.Identifier{tn.SchemaName}.Sanitize()
	if slices.Contains(s.Tables, "schema_version") {
		q(`SELECT version FROM `+ident+`.schema_version WHERE $1 <> ''`, &s.Version)
	}
	if slices.Contains(s.Tables, "users") {
		rows, err := e.pool.Query(e.ctx, `SELECT name FROM `+ident+`.roles ORDER BY name`)
		if err != nil {
			e.t.Fatal(err)
		}
		if s.TenantRoles, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			e.t.Fatal(err)
		}
		q(`SELECT count(*), count(*) FILTER (WHERE status = 'PENDING_ACTIVATION'), coalesce(min(password_hash), '')
			FROM `+ident+`.users WHERE $1 <> ''`, &s.Users, &s.PendingUsers, &s.PasswordHash)
		q(`SELECT count(*) FROM `+ident+`.audit_logs WHERE $1 <> ''`, &s.AuditRows)
	}
	return s
}

// version is the schema version the control plane records for the tenant (nil: none).
func (e *env) version(id uuid.UUID) *int32 {
	e.t.Helper()
	tn, err := e.store.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn.SchemaVersion
}

func (e *env) logRows(id uuid.UUID) []store.StepLog {
	e.t.Helper()
	logs, err := e.store.Logs(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return logs
}

func describeLogs(logs []store.StepLog) string {
	var b bytes.Buffer
	for _, l := range logs {
		fmt.Fprintf(&b, "%s/%s#%d ", l.Step, l.Status, l.Attempt)
	}
	return b.String()
}

// holdsNoTransactionWhile runs work (a step that waits on the network) and samples
// pg_stat_activity meanwhile: no connection of the env's database may be idle in a
// transaction for 100 ms or more, which is a transaction held open across something slow
// (the steps' own short transactions are idle between statements for microseconds). work
// must take long enough for dozens of samples, or the check saw nothing.
func (e *env) holdsNoTransactionWhile(work func() error) {
	e.t.Helper()
	done := make(chan error, 1)
	go func() { done <- work() }()
	observer, err := e.pool.Acquire(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	defer observer.Release()
	samples, idleInTx := 0, 0
	for {
		select {
		case err := <-done:
			if err != nil {
				e.t.Fatal(err)
			}
			// A sample takes 10 ms on an idle machine and several times that on a loaded
			// one (a CI run of every suite at once): 5 still show that the step waited.
			if samples < 5 {
				e.t.Fatalf("only %d samples while the step waited: it did not wait", samples)
			}
			if idleInTx != 0 {
				e.t.Errorf("a connection was idle in a transaction in %d of %d samples while the step waited on the network", idleInTx, samples)
			}
			return
		case <-time.After(10 * time.Millisecond):
			var n int
			if err := observer.QueryRow(e.ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'
				AND state_change < now() - interval '100 milliseconds'`).Scan(&n); err != nil {
				e.t.Fatal(err)
			}
			samples++
			idleInTx += n
		}
	}
}
