package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stellar/go/keypair"

	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// lease is who holds address, and whether the lease still stands.
func lease(t *testing.T, ctx context.Context, pool *pgxpool.Pool, address string) (holder *uuid.UUID, live bool) {
	t.Helper()
	if err := pool.QueryRow(ctx, `SELECT holder, coalesce(expires_at > now(), false) FROM deployer_leases WHERE address = $1`,
		address).Scan(&holder, &live); err != nil {
		t.Fatal(err)
	}
	return holder, live
}

// A lease belongs to the call that took it, not to its tenant: another attempt of the same
// tenant is refused while it stands, and once it has expired and been taken again, the
// first call's release leaves the new lease alone.
func TestALeaseIsReleasedOnlyByItsOwnToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	c := store.New(pool).ContractDeployments(time.Minute)
	addresses := []string{keypair.MustRandom().Address()}
	tenant, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())

	addr, releaseFirst, ok, err := c.Lease(ctx, tenant, addresses)
	if err != nil || !ok || addr != addresses[0] {
		t.Fatalf("first lease = %q, %v, %v", addr, ok, err)
	}
	for _, who := range []uuid.UUID{tenant, other} {
		if _, _, ok, err := c.Lease(ctx, who, addresses); err != nil || ok {
			t.Errorf("lease for %v while the first stands = %v, %v; want refused", who, ok, err)
		}
	}

	if _, err := pool.Exec(ctx, `UPDATE deployer_leases SET expires_at = now() - interval '1 second' WHERE holder IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	_, releaseRetry, ok, err := c.Lease(ctx, tenant, addresses)
	if err != nil || !ok {
		t.Fatalf("lease after the first expired = %v, %v", ok, err)
	}
	releaseFirst()
	if holder, live := lease(t, ctx, pool, addr); holder == nil || *holder != tenant || !live {
		t.Errorf("after the stale release the account is leased to %v (live: %v); want the retry's lease standing", holder, live)
	}
	if _, _, ok, err := c.Lease(ctx, other, addresses); err != nil || ok {
		t.Errorf("another tenant's lease after the stale release = %v, %v; want refused", ok, err)
	}

	releaseRetry()
	if holder, _ := lease(t, ctx, pool, addr); holder != nil {
		t.Errorf("after its own release the account is leased to %v; want it free", holder)
	}
}

// Two attempts of a tenant leasing for the first time at the same moment each find no pin
// and lease a free account; the one that pins the tenant second is refused like any busy
// account (its lease undone), rather than failing on the pin's unique key.
func TestTheSecondOfTwoFirstLeasesIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	c := store.New(pool).ContractDeployments(time.Minute)
	addresses := []string{keypair.MustRandom().Address(), keypair.MustRandom().Address()}
	tenant := uuid.Must(uuid.NewV7())

	// The other attempt's lease transaction, caught after it pinned the tenant and before
	// it commits.
	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback(ctx) }()
	if _, err := other.Exec(ctx, `INSERT INTO tenant_deployers (tenant_id, address) VALUES ($1, $2)`, tenant, addresses[0]); err != nil {
		t.Fatal(err)
	}
	type leased struct {
		ok  bool
		err error
	}
	done := make(chan leased, 1)
	go func() {
		_, _, ok, err := c.Lease(ctx, tenant, addresses)
		done <- leased{ok, err}
	}()
	for waiting := 0; waiting == 0; {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			t.Fatalf("the lease did not wait for the other attempt's pin: %v, %v", r.ok, r.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.ok {
		t.Errorf("lease = %v, %v; want refused", r.ok, r.err)
	}
	var held int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM deployer_leases WHERE holder IS NOT NULL`).Scan(&held); err != nil || held != 0 {
		t.Errorf("%d accounts leased (%v); want the refused lease undone", held, err)
	}
}
