package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

func TestStepsProvisionATenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.reserve("Acme Health")
	if tn.Status != tenant.StatusPending || tn.SchemaName != "" {
		t.Fatalf("reserved tenant = %s/%q, want PENDING without schema", tn.Status, tn.SchemaName)
	}
	outs := e.runSteps(tn.ID, len(dbSteps))
	// RunMigrations records the schema's version in the control plane, for the upgrade.
	var recorded *int32
	if err := e.pool.QueryRow(e.ctx, `SELECT schema_version FROM tenants WHERE id = $1`, tn.ID).Scan(&recorded); err != nil ||
		recorded == nil || *recorded != tenantdb.LatestVersion() {
		t.Errorf("recorded schema version %v (%v), want %d", recorded, err, tenantdb.LatestVersion())
	}

	claimed, err := e.store.Get(e.ctx, tn.ID)
	if err != nil || !tenant.ValidSchemaName(claimed.SchemaName) || !strings.HasPrefix(claimed.SchemaName, "t_acme_health_") {
		t.Errorf("schema name = %q (%v)", claimed.SchemaName, err)
	}
	if got := outs[0].(CreateTenantRecordOutput); got.TenantID != tn.ID.String() || got.Status != "PROVISIONING" {
		t.Errorf("CreateTenantRecord = %+v", got)
	}
	if got := outs[1].(CreateSchemaOutput); !got.Created {
		t.Errorf("CreateSchema = %+v", got)
	}
	if got := outs[2].(RunMigrationsOutput); got.FromVersion != 0 || got.ToVersion != tenantdb.LatestVersion() {
		t.Errorf("RunMigrations = %+v, want 0 → %d", got, tenantdb.LatestVersion())
	}
	seed := outs[3].(tenantdb.SeedResult)
	if seed.RolesCreated != 3 || !seed.AdminCreated || uuid.Validate(seed.AdminUserID) != nil {
		t.Errorf("SeedRolesAndUser = %+v", seed)
	}

	st := e.state(tn.ID)
	want := state{
		Status: "ACTIVE", SchemaName: claimed.SchemaName, ExecutionArn: executionArn(tn.ID.String()),
		ContractID: testContractID, Completed: true, SchemaExists: true, RoleExists: true,
		SchemaComment: "tenant:" + tn.ID.String(), RoleComment: "tenant:" + tn.ID.String(), RoleUsage: true,
		Tables:  []string{"audit_logs", "roles", "schema_version", "users"},
		Version: tenantdb.LatestVersion(), TenantRoles: []string{"admin", "user", "viewer"},
		Users: 1, PendingUsers: 1, AuditRows: 4, PasswordHash: st.PasswordHash,
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("state after provisioning:\n got %+v\nwant %+v", st, want)
	}
	// No password until the admin activates the account: an unusable marker, no hash.
	if !regexp.MustCompile(`^![A-Za-z0-9_-]{40}$`).MatchString(st.PasswordHash) || tenantdb.VerifyPassword(st.PasswordHash, "") {
		t.Errorf("admin password is not the unusable marker: %.8s…", st.PasswordHash)
	}

	logs := e.logRows(tn.ID)
	if len(logs) != len(dbSteps) {
		t.Fatalf("logs = %s, want one per step", describeLogs(logs))
	}
	for i, l := range logs {
		if l.Step != dbSteps[i].name || l.Status != store.LogCompleted || l.Attempt != 1 || l.DurationMS == nil || l.Error != "" {
			t.Errorf("log %d = %+v, want %s COMPLETED attempt 1 with a duration", i, l, dbSteps[i].name)
		}
	}
}

// Each step runs twice in a row, as Step Functions may do (at-least-once delivery, retries
// after a lost response); the second run must succeed and change nothing.
func TestEachStepIsIdempotent(t *testing.T) {
	t.Parallel()
	for i, st := range dbSteps {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tn := e.reserve("Idempotent Clinic")
			e.runSteps(tn.ID, i)
			first, err := st.run(e.ctx, e.steps, tn.ID.String())
			if err != nil {
				t.Fatalf("first run: %v", err)
			}
			before := e.state(tn.ID)
			second, err := st.run(e.ctx, e.steps, tn.ID.String())
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if after := e.state(tn.ID); !reflect.DeepEqual(before, after) {
				t.Errorf("state changed on the second run:\nbefore %+v\n after %+v", before, after)
			}
			if st.name != catalog.CreateSchema.Log && st.name != catalog.SeedRolesAndUser.Log && st.name != catalog.RunMigrations.Log {
				if !reflect.DeepEqual(first, second) {
					t.Errorf("outputs differ: %+v vs %+v", first, second)
				}
			}
			logs := e.logRows(tn.ID)
			last := logs[len(logs)-1]
			if last.Step != st.name || last.Attempt != 2 || last.Status != store.LogCompleted {
				t.Errorf("last log = %+v, want %s attempt 2 COMPLETED", last, st.name)
			}
		})
	}
}

// A crash half way through a step leaves its transaction uncommitted and its log row
// IN_PROGRESS; the retry must still succeed.
func TestStepRecoversAfterCrashMidway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.reserve("Crashy Clinic")
	e.runSteps(tn.ID, 2)
	// Simulate the crash: the attempt was opened, the migration transaction never committed.
	if _, err := e.store.StartStep(e.ctx, tn.ID, catalog.RunMigrations.Log, executionArn(tn.ID.String())); err != nil {
		t.Fatal(err)
	}
	e.runSteps(tn.ID, len(dbSteps)) // re-runs from the start: every earlier step is a no-op
	if st := e.state(tn.ID); st.Status != "ACTIVE" || st.Version != tenantdb.LatestVersion() {
		t.Fatalf("state = %+v", st)
	}
}

func TestRollbackAfterEachStep(t *testing.T) {
	t.Parallel()
	// n = number of steps that completed before the failure; 0 means the claim itself failed.
	for n := 0; n < len(dbSteps); n++ {
		name := "before any step"
		if n > 0 {
			name = "after " + dbSteps[n-1].name
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tn := e.reserve("Rollback Clinic")
			e.runSteps(tn.ID, n)
			if before, migrated := e.version(tn.ID), n >= 3; migrated != (before != nil) {
				t.Fatalf("schema version %v before the rollback; RunMigrations ran: %v", before, migrated)
			}
			caught := &CaughtError{Error: "TransientError", Cause: `{"errorMessage":"deploy contract: rpc unavailable for dr.quinn.zz9@clinic-example.org\ngoroutine 1 [running]:","errorType":"TransientError"}`}
			out, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), Error: caught})
			if err != nil {
				t.Fatalf("rollback: %v", err)
			}
			wantErr := "TransientError: deploy contract: rpc unavailable for [redacted]"
			assertRolledBack(t, e, tn.ID, wantErr)
			if out.Status != "FAILED" || out.TenantID != tn.ID.String() {
				t.Errorf("output = %+v", out)
			}
			schemaMade := n >= 2
			if got := len(out.Undone) == 2; got != schemaMade {
				t.Errorf("undone = %v, want schema and role reported: %v", out.Undone, schemaMade)
			}
			contractStored := n >= 5
			if (out.Outcome == "dirty") != contractStored || (len(out.Remaining) == 1) != contractStored {
				t.Errorf("outcome = %s, remaining = %v; contract stored: %v", out.Outcome, out.Remaining, contractStored)
			}

			// A retried rollback changes nothing and keeps the first error.
			before := e.state(tn.ID)
			if _, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), Error: &CaughtError{Error: "States.Timeout"}}); err != nil {
				t.Fatalf("second rollback: %v", err)
			}
			if after := e.state(tn.ID); !reflect.DeepEqual(before, after) {
				t.Errorf("second rollback changed state:\nbefore %+v\n after %+v", before, after)
			}
		})
	}
}

func assertRolledBack(t *testing.T, e *env, id uuid.UUID, wantErr string) {
	t.Helper()
	tn, err := e.store.Get(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tn.Status != tenant.StatusFailed || tn.ProvisioningError != wantErr || tn.CompletedAt == nil {
		t.Errorf("tenant = %s %q, want FAILED %q", tn.Status, tn.ProvisioningError, wantErr)
	}
	if tn.SchemaVersion != nil { // the schema is gone: no version of it may be shown
		t.Errorf("schema version %d recorded after the rollback dropped the schema", *tn.SchemaVersion)
	}
	name := tn.SchemaName
	if name == "" {
		name = tenant.SchemaName(tn.Name, tn.ID) // what it would have been
	}
	if schema, role := testdbExists(t, e, name); schema || role {
		t.Errorf("after rollback schema exists=%v role exists=%v", schema, role)
	}
	logs := e.logRows(id)
	last := logs[len(logs)-1]
	if last.Step != catalog.Rollback.Log || last.Status != store.LogRolledBack {
		t.Errorf("last log = %s, want ROLLBACK ROLLED_BACK", describeLogs(logs))
	}
	for _, l := range logs {
		if l.Status == store.LogInProgress {
			t.Errorf("log left IN_PROGRESS after rollback: %s", describeLogs(logs))
		}
	}
}

func testdbExists(t *testing.T, e *env, name string) (bool, bool) {
	var schema, role bool
	err := e.pool.QueryRow(e.ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
		EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&schema, &role)
	if err != nil {
		t.Fatal(err)
	}
	return schema, role
}

func TestRollbackClosesAnInterruptedAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.reserve("Timed Out Clinic")
	e.runSteps(tn.ID, 3)
	// The seed attempt's Lambda timed out: its row stays IN_PROGRESS and nothing committed.
	if _, err := e.store.StartStep(e.ctx, tn.ID, catalog.SeedRolesAndUser.Log, executionArn(tn.ID.String())); err != nil {
		t.Fatal(err)
	}
	out, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), Error: &CaughtError{Error: "States.Timeout", Cause: ""}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedStep != catalog.SeedRolesAndUser.Log {
		t.Errorf("failed step = %q, want %s", out.FailedStep, catalog.SeedRolesAndUser.Log)
	}
	assertRolledBack(t, e, tn.ID, "States.Timeout")
}

func TestRollbackRefusesLiveTenants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	active := e.provision("Active Clinic")
	_, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: active.ID.String(), ExecutionArn: executionArn(active.ID.String()), Error: &CaughtError{Error: "X"}})
	assertFault[*fault.InvariantError](t, err)
	if st := e.state(active.ID); st.Status != "ACTIVE" || !st.SchemaExists || !st.RoleExists {
		t.Errorf("rollback touched an active tenant: %+v", st)
	}
}

// A schema or role with the tenant's name that we did not create is never adopted or dropped.
func TestForeignObjectsAreLeftAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.reserve("Squatted Clinic")
	e.runSteps(tn.ID, 1)
	name := e.state(tn.ID).SchemaName
	if _, err := e.pool.Exec(e.ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	_, err := e.steps.CreateSchema(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
	assertFault[*fault.InvariantError](t, err)
	_, err = e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), Error: &CaughtError{Error: "InvariantError"}})
	assertFault[*fault.InvariantError](t, err)
	if schema, _ := testdbExists(t, e, name); !schema {
		t.Error("rollback dropped a schema it did not create")
	}
}

func TestStepErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pending := e.reserve("Pending Clinic")
	other := e.reserve("Claimed Clinic")
	e.runSteps(other.ID, 1)
	failed := e.reserve("Failed Clinic")
	e.runSteps(failed.ID, 3)
	if _, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: failed.ID.String(), ExecutionArn: executionArn(failed.ID.String())}); err != nil {
		t.Fatal(err)
	}
	unknown := uuid.Must(uuid.NewV7()).String()
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()

	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"malformed tenant id", func() error {
			_, err := e.steps.CreateSchema(e.ctx, TenantInput{TenantID: "'; DROP TABLE tenants; --", ExecutionArn: executionArn("'; DROP TABLE tenants; --")})
			return err
		}, "ValidationError"},
		{"unknown tenant", func() error {
			_, err := e.steps.CreateSchema(e.ctx, TenantInput{TenantID: unknown, ExecutionArn: executionArn(unknown)})
			return err
		}, "NotFoundError"},
		{"claim without execution", func() error {
			_, err := e.steps.CreateTenantRecord(e.ctx, CreateTenantRecordInput{TenantID: pending.ID.String()})
			return err
		}, "ValidationError"},
		{"claim by a second execution", func() error {
			_, err := e.steps.CreateTenantRecord(e.ctx, CreateTenantRecordInput{TenantID: other.ID.String(), ExecutionArn: executionArn("other")})
			return err
		}, "ConflictError"},
		{"claim of a failed tenant", func() error {
			_, err := e.steps.CreateTenantRecord(e.ctx, CreateTenantRecordInput{TenantID: failed.ID.String(), ExecutionArn: executionArn(failed.ID.String())})
			return err
		}, "ConflictError"},
		{"schema before claim", func() error {
			_, err := e.steps.CreateSchema(e.ctx, TenantInput{TenantID: pending.ID.String(), ExecutionArn: executionArn(pending.ID.String())})
			return err
		}, "InvariantError"},
		{"schema after rollback", func() error {
			_, err := e.steps.CreateSchema(e.ctx, TenantInput{TenantID: failed.ID.String(), ExecutionArn: executionArn(failed.ID.String())})
			return err
		}, "InvariantError"},
		{"migrations before schema", func() error {
			_, err := e.steps.RunMigrations(e.ctx, TenantInput{TenantID: other.ID.String(), ExecutionArn: executionArn(other.ID.String())})
			return err
		}, "InvariantError"},
		{"malformed contract id", func() error {
			_, err := e.steps.StoreContractAddress(e.ctx, StoreContractAddressInput{TenantID: other.ID.String(), ExecutionArn: executionArn(other.ID.String()), ContractID: "C123"})
			return err
		}, "ValidationError"},
		{"activate a failed tenant", func() error {
			_, err := e.steps.ActivateTenant(e.ctx, TenantInput{TenantID: failed.ID.String(), ExecutionArn: executionArn(failed.ID.String())})
			return err
		}, "InvariantError"},
		{"database call cancelled", func() error {
			_, err := e.steps.CreateSchema(cancelled, TenantInput{TenantID: other.ID.String(), ExecutionArn: executionArn(other.ID.String())})
			return err
		}, "TransientError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if got := fault.Name(err); got != c.want {
				t.Fatalf("error %v has type %q, want %q", err, got, c.want)
			}
		})
	}
	// Nothing was created for the failed tenant by the late step.
	if st := e.state(failed.ID); st.SchemaExists || st.RoleExists || st.Status != "FAILED" {
		t.Errorf("failed tenant state = %+v", st)
	}
	// Refused attempts are in the log as FAILED with their (safe) reason.
	logs := e.logRows(other.ID)
	var sawFailed bool
	for _, l := range logs {
		// invalid_schema_name: the migrations ran into the missing schema.
		if l.Status == store.LogFailed && l.Step == catalog.RunMigrations.Log && strings.Contains(l.Error, "SQLSTATE 3F000") {
			sawFailed = true
		}
	}
	if !sawFailed {
		t.Errorf("no FAILED log row with an error for the refused step: %s", describeLogs(logs))
	}
}

func TestStoreContractAddressKeepsTheFirstContract(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.reserve("Contract Clinic")
	e.runSteps(tn.ID, 5)
	_, err := e.steps.StoreContractAddress(e.ctx, StoreContractAddressInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), ContractID: "C" + strings.Repeat("A", 55)})
	assertFault[*fault.InvariantError](t, err)
	if st := e.state(tn.ID); st.ContractID != testContractID {
		t.Errorf("contract = %q", st.ContractID)
	}
}

func TestReserveRejectsDuplicateNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.reserve("Mercy General")
	for _, name := range []string{"Mercy General", "MERCY GENERAL", "  mercy   general "} {
		reg, err := registration(name).Normalize()
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.store.Reserve(e.ctx, reg)
		assertFault[*fault.ConflictError](t, err)
		if err != nil && strings.Contains(err.Error(), "ercy") {
			t.Errorf("conflict error repeats the name: %q", err)
		}
	}
	// The name is free again once the first tenant failed and was rolled back.
	if _, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: first.ID.String(), ExecutionArn: executionArn(first.ID.String())}); err != nil {
		t.Fatal(err)
	}
	e.reserve("Mercy General")
}

func TestConcurrentReservationsOfOneName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg, err := registration("Race Clinic").Normalize()
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = e.store.Reserve(e.ctx, reg) })
	}
	wg.Wait()
	var ok, conflicts int
	for _, err := range errs {
		var ce *fault.ConflictError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &ce):
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Errorf("%d reservations succeeded and %d conflicted, want 1 and %d", ok, conflicts, n-1)
	}
}

func TestNamesThatSlugTheSameGetDistinctSchemas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seen := map[string]bool{}
	for _, name := range []string{"Acme Health", "Acme-Health", "Acme Health!", "ACME_health?"} {
		tn := e.provision(name)
		if seen[tn.SchemaName] {
			t.Errorf("schema %s assigned twice", tn.SchemaName)
		}
		seen[tn.SchemaName] = true
		if !strings.HasPrefix(tn.SchemaName, "t_acme_health_") || tn.Status != tenant.StatusActive {
			t.Errorf("%q → %s %s", name, tn.SchemaName, tn.Status)
		}
	}
}

func TestHostileAndLongNamesProvisionSafely(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := []string{
		`x"; DROP SCHEMA public CASCADE; --`,
		strings.Repeat("Long Name Medical Center ", 11)[:254] + "Z",
		strings.Repeat("é", 255),
		`Robert'); DROP TABLE tenants;--`,
	}
	for _, name := range names {
		func() {
			tn := e.provision(name)
			if !tenant.ValidSchemaName(tn.SchemaName) || len(tn.SchemaName) > tenant.MaxIdentifierBytes {
				t.Errorf("schema name %q is not a safe identifier", tn.SchemaName)
			}
			if tn.Status != tenant.StatusActive || tn.Name != name {
				t.Errorf("tenant = %s %q", tn.Status, tn.Name)
			}
			// The schema name as stored is the one PostgreSQL created: nothing was truncated.
			if st := e.state(tn.ID); !st.SchemaExists || !st.RoleExists {
				t.Errorf("schema/role missing for %s", tn.SchemaName)
			}
		}()
	}
	var n int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM public.tenants`).Scan(&n); err != nil || n != len(names) {
		t.Errorf("control plane damaged: count=%d err=%v", n, err)
	}
}

// Tenant isolation is enforced by PostgreSQL: each tenant's role can use its own schema
// only, cannot touch the control plane, and cannot rewrite its audit trail.
func TestTenantRolesAreIsolated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.provision("Alpha Clinic")
	b := e.provision("Beta Clinic")
	as := func(role, sql string) error {
		return pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(e.ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
				return err
			}
			_, err := tx.Exec(e.ctx, sql)
			return err
		})
	}
	qa, qb := pgx.Identifier{a.SchemaName}.Sanitize(), pgx.Identifier{b.SchemaName}.Sanitize()
	cases := []struct {
		name, sql string
		allowed   bool
	}{
		{"reads its own users", "SELECT * FROM " + qa + ".users", true},
		{"writes its own roles", "UPDATE " + qa + ".roles SET description = description", true},
		{"appends to its own audit log", "INSERT INTO " + qa + ".audit_logs (actor, action, entity_type) VALUES ('u', 'a', 'e')", true},
		{"cannot read another tenant", "SELECT * FROM " + qb + ".users", false},
		{"cannot write another tenant", "DELETE FROM " + qb + ".audit_logs", false},
		{"cannot read the control plane", "SELECT * FROM public.tenants", false},
		{"cannot rewrite its audit log", "UPDATE " + qa + ".audit_logs SET action = 'x'", false},
		{"cannot delete its audit log", "DELETE FROM " + qa + ".audit_logs", false},
		{"cannot change its migration version", "UPDATE " + qa + ".schema_version SET version = 0", false},
		{"cannot create tables", "CREATE TABLE " + qa + ".extra (id int)", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := as(a.SchemaName, c.sql)
			var pgErr *pgconn.PgError
			switch {
			case c.allowed && err != nil:
				t.Errorf("denied: %v", err)
			case !c.allowed && !(errors.As(err, &pgErr) && pgErr.Code == "42501"):
				t.Errorf("got %v, want insufficient_privilege (42501)", err)
			}
		})
	}
	var canLogin bool
	if err := e.pool.QueryRow(e.ctx, `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, a.SchemaName).Scan(&canLogin); err != nil || canLogin {
		t.Errorf("tenant role can log in (%v, %v)", canLogin, err)
	}
}

func TestArchive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	active := e.provision("Archive Clinic")
	res, err := e.steps.Archive(e.ctx, active.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "ARCHIVED" || res.AlreadyArchived || !res.AccessRevoked || res.ArchivedAt.IsZero() {
		t.Errorf("archive = %+v", res)
	}
	st := e.state(active.ID)
	if st.Status != "ARCHIVED" || !st.SchemaExists || st.RoleUsage {
		t.Errorf("state after archive = %+v, want ARCHIVED with schema kept and role without access", st)
	}
	again, err := e.steps.Archive(e.ctx, active.ID)
	if err != nil || !again.AlreadyArchived || !again.ArchivedAt.Equal(res.ArchivedAt) {
		t.Errorf("second archive = %+v, %v", again, err)
	}

	provisioning := e.reserve("Busy Clinic")
	e.runSteps(provisioning.ID, 2)
	_, err = e.steps.Archive(e.ctx, provisioning.ID)
	assertFault[*fault.ConflictError](t, err)
	if st := e.state(provisioning.ID); st.Status != "PROVISIONING" || !st.RoleUsage {
		t.Errorf("refused archive changed the tenant: %+v", st)
	}

	_, err = e.steps.Archive(e.ctx, uuid.Must(uuid.NewV7()))
	assertFault[*fault.NotFoundError](t, err)

	failed := e.reserve("Failed Then Archived")
	if _, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: failed.ID.String(), ExecutionArn: executionArn(failed.ID.String())}); err != nil {
		t.Fatal(err)
	}
	if res, err := e.steps.Archive(e.ctx, failed.ID); err != nil || res.AccessRevoked {
		t.Errorf("archive of a failed tenant = %+v, %v", res, err)
	}
}

// No admin e-mail or name may appear in logs, step outputs, errors or the stored log
// results: they belong in the database rows they describe and nowhere else.
func TestNoPersonalDataOutsideTheDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := registration("Privacy Clinic")
	var seen []string
	record := func(v any, err error) {
		b, _ := json.Marshal(v)
		seen = append(seen, string(b))
		if err != nil {
			seen = append(seen, err.Error())
		}
	}
	tn := e.reserve(reg.Name)
	for _, st := range dbSteps {
		record(st.run(e.ctx, e.steps, tn.ID.String()))
		record(st.run(e.ctx, e.steps, tn.ID.String()))
	}
	record(e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())}))
	record(e.steps.Archive(e.ctx, tn.ID))
	failing := e.reserve("Privacy Failure Clinic")
	e.runSteps(failing.ID, 4)
	record(e.steps.Rollback(e.ctx, RollbackInput{TenantID: failing.ID.String(), ExecutionArn: executionArn(failing.ID.String()),
		Error: &CaughtError{Error: "InvariantError", Cause: "user " + reg.AdminEmail + " password=hunter2 at postgres://app:s3cret@db/x"}}))
	for _, id := range []uuid.UUID{tn.ID, failing.ID} {
		for _, l := range e.logRows(id) {
			seen = append(seen, string(l.Result), l.Error)
		}
		got, _ := e.store.Get(e.ctx, id)
		seen = append(seen, got.ProvisioningError)
	}
	seen = append(seen, e.logs.String())
	all := strings.Join(seen, "\n")
	if !strings.Contains(all, tn.ID.String()) || !strings.Contains(e.logs.String(), `"step":"CREATE_SCHEMA"`) {
		t.Fatalf("the scan saw no step output; the test is not looking at anything:\n%s", all)
	}
	for _, secret := range []string{reg.AdminEmail, reg.AdminFirstName, reg.AdminLastName, "hunter2", "s3cret"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q appears outside the database:\n%s", secret, all)
		}
	}
}

func assertFault[T error](t *testing.T, err error) {
	t.Helper()
	var target T
	if !errors.As(err, &target) || fault.Name(err) != fault.Name(target) {
		t.Errorf("error = %v (%s), want %T returned as is", err, fault.Name(err), target)
	}
}

// Each attempt emits its duration and outcome as Embedded Metric Format, activation the
// tenant's provisioning time and a rollback the failed step: what the dashboard plots.
func TestStepsEmitMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok := e.provision("Metrics Clinic")
	bad := e.reserve("Metrics Failure Clinic")
	e.runSteps(bad.ID, 2)
	if _, err := e.steps.ActivateTenant(e.ctx, TenantInput{TenantID: bad.ID.String(), ExecutionArn: executionArn(bad.ID.String())}); err == nil {
		t.Fatal("activating an unprovisioned tenant succeeded")
	}
	if _, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: bad.ID.String(), ExecutionArn: executionArn(bad.ID.String())}); err != nil {
		t.Fatal(err)
	}
	var steps, failures, provisioned, rollbacks int
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) != nil || ev["_aws"] == nil {
			continue
		}
		// Every line is about one tenant and names it and its execution, so ops can
		// follow a tenant (or an execution) through the logs and the metrics.
		id, _ := ev["tenantId"].(string)
		if (id != ok.ID.String() && id != bad.ID.String()) || ev["executionArn"] != executionArn(id) {
			t.Errorf("%q: tenantId %v, executionArn %v; want the tenant's and its execution's", ev["msg"], ev["tenantId"], ev["executionArn"])
		}
		switch {
		case ev["StepDuration"] != nil && ev["Outcome"] == "success":
			steps++
		case ev["StepDuration"] != nil && ev["Outcome"] == "failure":
			failures++
		case ev["ProvisioningDuration"] != nil:
			provisioned++
		case ev["Rollbacks"] != nil && ev["FailedStep"] == catalog.ActivateTenant.Log:
			rollbacks++
		}
	}
	if steps != len(dbSteps)+2+1 || failures != 1 || provisioned != 1 || rollbacks != 1 {
		t.Errorf("metrics: %d successful steps, %d failed, %d provisioned, %d rollbacks", steps, failures, provisioned, rollbacks)
	}
}

// A step meets the schema as another release left it: one version newer than this code
// knows (an execution whose RunMigrations ran the newer code, whose migrations expand
// before they contract) or one older (the oldest this release serves). Every step after
// RunMigrations still succeeds on it (no InvariantError, so no rollback), and
// RunMigrations run again leaves the newer version as it is and brings the older one up.
func TestStepsServeASchemaOneVersionAwayFromTheirs(t *testing.T) {
	t.Parallel()
	latest := tenantdb.LatestVersion()
	for _, tt := range []struct {
		name    string
		version int32
		after   int32 // what RunMigrations run again leaves
	}{
		{"one newer", latest + 1, latest + 1},
		{"one older", latest - 1, latest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tn := e.reserve("Version Skew Clinic")
			e.runSteps(tn.ID, 3) // through RunMigrations
			row, err := e.store.Get(e.ctx, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			n, err := tenantdb.For(row)
			if err != nil {
				t.Fatal(err)
			}
			skew := func() {
				t.Helper()
				if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
					if tt.version < latest {
						_, err := tenantdb.Downgrade(e.ctx, tx, n, tt.version)
						return err
					}
					_, err := tx.Exec(e.ctx, `UPDATE `+pgx.Identifier{n.Schema, tenantdb.VersionTableName}.Sanitize()+` SET version = $1`, tt.version)
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			// RunMigrations again (a retry, or another release's attempt).
			skew()
			if _, err := dbSteps[2].run(e.ctx, e.steps, tn.ID.String()); err != nil {
				t.Fatalf("RunMigrations on a schema at version %d: %v (%s)", tt.version, err, fault.Name(err))
			}
			if v, err := tenantdb.Version(e.ctx, e.pool, n); err != nil || v != tt.after {
				t.Errorf("RunMigrations left version %d (%v), want %d", v, err, tt.after)
			}
			// The steps after it.
			skew()
			for _, st := range dbSteps[3:] {
				if _, err := st.run(e.ctx, e.steps, tn.ID.String()); err != nil {
					t.Fatalf("%s on a schema at version %d: %v (%s)", st.name, tt.version, err, fault.Name(err))
				}
			}
			if got, err := e.store.Get(e.ctx, tn.ID); err != nil || got.Status != tenant.StatusActive {
				t.Errorf("tenant %s (%v), want ACTIVE", got.Status, err)
			}
		})
	}
}

// A rollback while the contract step's transaction is still on its way (a timed-out
// attempt sent it, the journal holds it unsettled) is not clean: the transaction may yet
// create the contract, and the rollback says so, naming it.
func TestRollbackIsNotCleanWhileAContractTransactionIsInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.reserve("In Flight Clinic")
	e.runSteps(tn.ID, 4) // through SeedRolesAndUser: the contract step comes next
	journal := e.store.ContractDeployments(time.Minute)
	const hash = "5f3a0c7e9b1d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a"
	if err := journal.Sending(e.ctx, tn.ID, "GABC", hash, "AAAA", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	out, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()),
		Error: &CaughtError{Error: "Sandbox.Timedout"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Outcome != OutcomeDirty || len(out.Remaining) != 1 || !strings.Contains(out.Remaining[0], hash) {
		t.Errorf("rollback with a transaction in flight: %s, remaining %v; want dirty, naming it", out.Outcome, out.Remaining)
	}
}
