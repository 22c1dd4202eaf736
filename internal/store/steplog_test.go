package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

func TestStartStepNumbersAttemptsAndCommitsWithoutWaitingForTheFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	reg, err := tenant.Registration{Name: "Attempt Clinic", AdminEmail: "a@example.org", AdminFirstName: "A", AdminLastName: "B"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	tn, err := store.New(pool).Reserve(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 2; want++ {
		run, err := store.StartStep(ctx, pool, tn.ID, catalog.CreateSchema.Log)
		if err != nil || run.Attempt != want {
			t.Fatalf("attempt %d: got %+v, %v", want, run, err)
		}
	}
	if _, err := store.StartStep(ctx, pool, uuid.New(), catalog.CreateSchema.Log); !errors.As(err, new(*fault.NotFoundError)) {
		t.Errorf("unknown tenant: %v, want a NotFoundError", err)
	}

	// Inside a transaction, what each variant leaves for the commit can be read back.
	cases := []struct {
		name  string
		start func(context.Context, pgx.Tx, uuid.UUID, string) (store.StepRun, error)
		want  string
	}{
		{"StartStep's statement, first attempt of a step", store.StartStepAsyncIn, "off"},
		{"StartStepIn commits with its transaction, durably", store.StartStepIn, "on"},
	}
	for _, c := range cases {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
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
