package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// The store's status changes follow the lifecycle table even when a caller skipped its
// own check: a move the table does not allow is an InvariantError and changes nothing.
func TestStatusChangesFollowTheLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	s := store.New(pool)
	const arn = "arn:aws:states:us-east-1:000000000000:execution:tenant-provisioning:x"
	claim := func(tx *store.Tx, tn tenant.Tenant) error {
		return tx.Claim(ctx, tn.ID, arn, tenant.SchemaName(tn.Name, tn.ID))
	}
	activate := func(tx *store.Tx, tn tenant.Tenant) error { return tx.Activate(ctx, tn.ID) }
	fail := func(tx *store.Tx, tn tenant.Tenant) error { return tx.MarkFailed(ctx, tn.ID, "boom") }
	archive := func(tx *store.Tx, tn tenant.Tenant) error { _, err := tx.Archive(ctx, tn.ID); return err }
	cases := []struct {
		name   string
		before []func(*store.Tx, tenant.Tenant) error // moves that bring the tenant to its status
		move   func(*store.Tx, tenant.Tenant) error
		want   tenant.Status // "" when the move is refused
	}{
		{"claim a reservation", nil, claim, tenant.StatusProvisioning},
		{"activate a reservation", nil, activate, ""},
		{"archive a reservation", nil, archive, ""},
		{"fail a reservation", nil, fail, tenant.StatusFailed},
		{"activate", []func(*store.Tx, tenant.Tenant) error{claim}, activate, tenant.StatusActive},
		{"archive while provisioning", []func(*store.Tx, tenant.Tenant) error{claim}, archive, ""},
		{"fail an active tenant", []func(*store.Tx, tenant.Tenant) error{claim, activate}, fail, ""},
		{"claim an active tenant", []func(*store.Tx, tenant.Tenant) error{claim, activate}, claim, ""},
		{"archive an active tenant", []func(*store.Tx, tenant.Tenant) error{claim, activate}, archive, tenant.StatusArchived},
		{"fail again", []func(*store.Tx, tenant.Tenant) error{fail}, fail, tenant.StatusFailed},
		{"activate a failed tenant", []func(*store.Tx, tenant.Tenant) error{fail}, activate, ""},
		{"activate an archived tenant", []func(*store.Tx, tenant.Tenant) error{fail, archive}, activate, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tn := reserve(t, ctx, s, "Lifecycle "+c.name)
			for _, m := range c.before {
				if err := s.InTx(ctx, func(tx *store.Tx) error { return m(tx, tn) }); err != nil {
					t.Fatal(err)
				}
			}
			before, err := s.Get(ctx, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			err = s.InTx(ctx, func(tx *store.Tx) error { return c.move(tx, tn) })
			after, gerr := s.Get(ctx, tn.ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if c.want == "" {
				var inv *fault.InvariantError
				if !errors.As(err, &inv) {
					t.Fatalf("from %s: err = %v, want an InvariantError", before.Status, err)
				}
				if after.Status != before.Status || !after.UpdatedAt.Equal(before.UpdatedAt) {
					t.Errorf("a refused move changed the tenant: %s → %s", before.Status, after.Status)
				}
				return
			}
			if err != nil || after.Status != c.want {
				t.Errorf("from %s: %v, status %s; want %s", before.Status, err, after.Status, c.want)
			}
		})
	}
}
