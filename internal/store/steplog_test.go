package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

func TestStartStepNumbersAttemptsAndCommitsWithoutWaitingForTheFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s, tn := reservedIn(t, ctx, "Attempt Clinic")
	own := "arn:aws:states:us-east-1:000000000000:execution:tenant-provisioning:" + tn.ExecutionName()
	for want := 1; want <= 2; want++ {
		run, err := s.StartStep(ctx, tn.ID, catalog.CreateSchema.Log, own)
		if err != nil || run.Attempt != want {
			t.Fatalf("attempt %d: got %+v, %v", want, run, err)
		}
	}
	if _, err := s.StartStep(ctx, uuid.New(), catalog.CreateSchema.Log, own); !errors.As(err, new(*fault.NotFoundError)) {
		t.Errorf("unknown tenant: %v, want a NotFoundError", err)
	}

	// Inside a transaction, what each variant leaves for the commit can be read back (which
	// is why StartStep is never called on a Tx but here).
	cases := []struct {
		name  string
		start func(ctx context.Context, tx *store.Tx, id uuid.UUID, step string) (store.StepRun, error)
		want  string
	}{
		{"StartStep's statement, first attempt of a step", func(ctx context.Context, tx *store.Tx, id uuid.UUID, step string) (store.StepRun, error) {
			return tx.StartStep(ctx, id, step, own)
		}, "off"},
		{"StartStepIn commits with its transaction, durably", func(ctx context.Context, tx *store.Tx, id uuid.UUID, step string) (store.StepRun, error) {
			return tx.StartStepIn(ctx, id, step)
		}, "on"},
	}
	for _, c := range cases {
		err := s.InTx(ctx, func(tx *store.Tx) error {
			if _, err := c.start(ctx, tx, tn.ID, catalog.SeedRolesAndUser.Log); err != nil {
				return err
			}
			var got string
			if err := tx.QueryRow(ctx, "SHOW synchronous_commit").Scan(&got); err != nil {
				return err
			}
			if got != c.want {
				t.Errorf("%s: synchronous_commit = %s, want %s", c.name, got, c.want)
			}
			return errors.New("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
}

// Only the tenant's own execution starts attempts: the one named for its current attempt
// until one claims it, then the claimant. Any other gets a ConflictError and writes
// nothing. Attempts are counted per execution.
func TestStartStepOnlyForTheTenantsExecution(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, s, tn := reservedIn(t, ctx, "Owner Clinic")
	const prefix = "arn:aws:states:us-east-1:000000000000:execution:"
	own := prefix + "tenant-provisioning:" + tn.ID.String()
	sameNameElsewhere := prefix + "other-machine:" + tn.ID.String()
	cases := []struct {
		name, arn string
		claimed   bool // after the own execution claimed the tenant
		owner     bool
	}{
		{"named for the tenant, before the claim", own, false, true},
		{"another name, before the claim", prefix + "tenant-provisioning:console-run", false, false},
		{"a retry's name before any retry", prefix + "tenant-provisioning:" + tn.ID.String() + "-r1", false, false},
		{"a name that only contains the id", prefix + "tenant-provisioning:" + tn.ID.String() + "x", false, false},
		{"the claimant", own, true, true},
		{"the same name on another state machine, after the claim", sameNameElsewhere, true, false},
	}
	claimed := false
	for _, c := range cases {
		if c.claimed && !claimed {
			if err := s.InTx(ctx, func(tx *store.Tx) error {
				return tx.Claim(ctx, tn.ID, own, tenant.SchemaName(tn.Name, tn.ID))
			}); err != nil {
				t.Fatal(err)
			}
			claimed = true
		}
		var before int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM provisioning_logs WHERE tenant_id = $1`, tn.ID).Scan(&before); err != nil {
			t.Fatal(err)
		}
		run, err := s.StartStep(ctx, tn.ID, catalog.CreateSchema.Log, c.arn)
		var after int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM provisioning_logs WHERE tenant_id = $1`, tn.ID).Scan(&after); err != nil {
			t.Fatal(err)
		}
		got, gerr := s.Get(ctx, tn.ID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		if got.OwnedBy(c.arn) != c.owner {
			t.Errorf("%s: Tenant.OwnedBy = %v, want %v (the SQL and Go rules must agree)", c.name, !c.owner, c.owner)
		}
		switch {
		case c.owner && (err != nil || run.ExecutionArn != c.arn || after != before+1):
			t.Errorf("%s: %+v, %v; rows %d → %d", c.name, run, err, before, after)
		case !c.owner && (!errors.As(err, new(*fault.ConflictError)) || after != before):
			t.Errorf("%s: %v, rows %d → %d; want a ConflictError and nothing written", c.name, err, before, after)
		}
	}
	// Two attempts of the own execution, before and after the claim: numbered 1 and 2.
	var attempts []int
	rows, err := pool.Query(ctx, `SELECT attempt FROM provisioning_logs WHERE tenant_id = $1 AND execution_arn = $2 ORDER BY id`, tn.ID, own)
	if err != nil {
		t.Fatal(err)
	}
	if attempts, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil || len(attempts) != 2 || attempts[1] != 2 {
		t.Errorf("attempts of the own execution: %v, %v", attempts, err)
	}
}

// reservedIn is a control plane of its own with one tenant reserved in it.
func reservedIn(t *testing.T, ctx context.Context, name string) (*pgxpool.Pool, *store.Store, tenant.Tenant) {
	t.Helper()
	pool := testdb.New(t)
	s := store.New(pool)
	return pool, s, reserve(t, ctx, s, name)
}
