package soroban_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	client "github.com/stellar/go/clients/rpcclient"
	"github.com/stellar/go/keypair"

	anchor "github.com/healthstack/tenant-provisioning/contracts/tenant-anchor"
	"github.com/healthstack/tenant-provisioning/internal/local/stellarrpc"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// pool is a network with size funded deployer accounts, leased in the control plane.
type pool struct {
	*network
	db      *pgxpool.Pool
	signers []*keypair.Full
}

func newPool(t *testing.T, size int, opts ...stellarrpc.Option) *pool {
	t.Helper()
	p := &pool{network: newNetwork(t, opts...), db: testdb.New(t)}
	for range size {
		k := keypair.MustRandom()
		p.double.Fund(k.Address(), 10_000_0000000)
		p.signers = append(p.signers, k)
	}
	return p
}

func (p *pool) deployer(confirm time.Duration) *soroban.Deployer {
	p.t.Helper()
	return p.deployerWith(confirm, client.NewClient(p.url, nil))
}

// deployerWith is a deployer of the pool that reaches the network through rpc.
func (p *pool) deployerWith(confirm time.Duration, rpc soroban.RPC) *soroban.Deployer {
	p.t.Helper()
	control := deployments(p.db)
	d, err := soroban.New(soroban.Config{
		RPC: rpc, Passphrase: localPassphrase, Wasm: anchor.Wasm,
		Signers: p.signers, Accounts: control, Journal: control,
		ConfirmTimeout: confirm, PollInterval: 5 * time.Millisecond,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return d
}

// deployAll deploys the tenants at once and returns their results.
func (p *pool) deployAll(d *soroban.Deployer, tenants []uuid.UUID) []soroban.Result {
	p.t.Helper()
	out := make([]soroban.Result, len(tenants))
	errs := make([]error, len(tenants))
	var wg sync.WaitGroup
	for i, tn := range tenants {
		wg.Go(func() { out[i], errs[i] = d.Deploy(context.Background(), tn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || !out[i].Created {
			p.t.Fatalf("tenant %d: %+v, %v", i, out[i], err)
		}
	}
	return out
}

// sources counts the distinct accounts the contracts' creates were sent from.
func (p *pool) sources(results []soroban.Result) int {
	ids := map[string]bool{}
	for _, r := range results {
		ids[r.ContractID] = true
	}
	ss := map[string]bool{}
	for _, tx := range p.double.Transactions() {
		if ids[tx.ContractID] && tx.Status == "SUCCESS" {
			ss[tx.Source] = true
		}
	}
	return len(ss)
}

// On a network that applies transactions at its ledger close, eight deployments on a pool
// of eight accounts go out at once, one per account, and wait for the same ledger closes;
// on a pool of one they take turns: never two in flight.
func TestAPoolOfAccountsDeploysInParallel(t *testing.T) {
	t.Parallel()
	// The pool of eight gets a ledger long enough that eight deployments started together
	// reach it before it closes even on a loaded machine (the race detector, the other
	// packages' tests); the pool of one, where they take turns, a short one.
	for _, c := range []struct {
		accounts, leastOverlap, mostOverlap int
		ledger                              time.Duration
	}{{8, 4, 8, time.Second}, {1, 1, 1, 200 * time.Millisecond}} {
		p := newPool(t, c.accounts, stellarrpc.WithLedgerClose(c.ledger))
		d := p.deployer(10 * time.Second)
		if _, err := d.Deploy(context.Background(), uuid.Must(uuid.NewV7())); err != nil { // the Wasm, once
			t.Fatal(err)
		}
		tenants := make([]uuid.UUID, 8)
		for i := range tenants {
			tenants[i] = uuid.Must(uuid.NewV7())
		}
		results := p.deployAll(d, tenants)
		// As many accounts as were in flight at once at least: a deployment that ends before
		// another starts (a loaded machine) may leave its account to the next one.
		if got := p.sources(results); got < c.leastOverlap || got > c.accounts {
			t.Errorf("%d accounts: the creates came from %d accounts, want %d to %d", c.accounts, got, c.leastOverlap, c.accounts)
		}
		if got := p.double.MostInFlight(); got < c.leastOverlap || got > c.mostOverlap {
			t.Errorf("%d accounts: at most %d deployments were in flight at once, want %d to %d", c.accounts, got, c.leastOverlap, c.mostOverlap)
		}
	}
}

// A tenant stays on the account its first deployment leased: its contract id follows from
// that account, so a later attempt, with every other account free, finds the same contract.
func TestATenantKeepsItsAccount(t *testing.T) {
	t.Parallel()
	p := newPool(t, 4)
	d := p.deployer(3 * time.Second)
	tenant := uuid.Must(uuid.NewV7())
	first, err := d.Deploy(context.Background(), tenant)
	if err != nil || !first.Created {
		t.Fatalf("first = %+v, %v", first, err)
	}
	for range 5 {
		again, err := d.Deploy(context.Background(), tenant)
		if err != nil || again.Created || again.ContractID != first.ContractID {
			t.Fatalf("again = %+v, %v; want the first contract", again, err)
		}
	}
	if c := p.double.ContractCounts(first.ContractID); c.Creates != 1 {
		t.Errorf("creates = %d", c.Creates)
	}
}

// A lease whose holder died is taken once it has expired; one still held makes the
// deployment wait, and give up with a TransientError at the confirm timeout.
func TestLeasesExpire(t *testing.T) {
	t.Parallel()
	p := newPool(t, 1)
	ctx := context.Background()
	addr := p.signers[0].Address()
	if _, err := p.db.Exec(ctx, `INSERT INTO deployer_leases (address, holder, expires_at) VALUES ($1, $2, now() + interval '1 hour')`,
		addr, uuid.New()); err != nil {
		t.Fatal(err)
	}
	_, err := p.deployer(200*time.Millisecond).Deploy(ctx, uuid.Must(uuid.NewV7()))
	wantError(t, err, "TransientError")
	if _, err := p.db.Exec(ctx, `UPDATE deployer_leases SET expires_at = now() - interval '1 second' WHERE address = $1`, addr); err != nil {
		t.Fatal(err)
	}
	res, err := p.deployer(3*time.Second).Deploy(ctx, uuid.Must(uuid.NewV7()))
	if err != nil || !res.Created {
		t.Fatalf("after the lease expired: %+v, %v", res, err)
	}
	var holder *uuid.UUID
	if err := p.db.QueryRow(ctx, `SELECT holder FROM deployer_leases WHERE address = $1`, addr).Scan(&holder); err != nil || holder != nil {
		t.Errorf("after the deployment the lease is held by %v (%v); want it released", holder, err)
	}
}
