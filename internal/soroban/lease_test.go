package soroban_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	client "github.com/stellar/go/clients/rpcclient"
	protocol "github.com/stellar/go/protocols/rpc"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
)

// gate is the RPC client of a deployment caught in the middle, holding its lease: it stops
// at its first call of one method, GetLedgerEntries (the first call after the lease) or
// SendTransaction (the create, built on the account's next sequence number and journalled),
// until the test opens it or the deployment's context ends.
type gate struct {
	*client.Client
	at      string
	arrived chan struct{}
	open    chan struct{}
	once    sync.Once
}

func (p *pool) gate(at string) *gate {
	return &gate{Client: client.NewClient(p.url, nil), at: at, arrived: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) stop(ctx context.Context, method string) error {
	if method != g.at {
		return nil
	}
	g.once.Do(func() { close(g.arrived) })
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) GetLedgerEntries(ctx context.Context, req protocol.GetLedgerEntriesRequest) (protocol.GetLedgerEntriesResponse, error) {
	if err := g.stop(ctx, "GetLedgerEntries"); err != nil {
		return protocol.GetLedgerEntriesResponse{}, err
	}
	return g.Client.GetLedgerEntries(ctx, req)
}

func (g *gate) SendTransaction(ctx context.Context, req protocol.SendTransactionRequest) (protocol.SendTransactionResponse, error) {
	if err := g.stop(ctx, "SendTransaction"); err != nil {
		return protocol.SendTransactionResponse{}, err
	}
	return g.Client.SendTransaction(ctx, req)
}

// reached waits for g's deployment to stop at it.
func (g *gate) reached(t *testing.T, who string) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never got its account", who)
	}
}

type deployed struct {
	res soroban.Result
	err error
}

// goDeploy runs d.Deploy in the background, as another Lambda container would.
func goDeploy(ctx context.Context, d *soroban.Deployer, tenant uuid.UUID) <-chan deployed {
	done := make(chan deployed, 1)
	go func() {
		res, err := d.Deploy(ctx, tenant)
		done <- deployed{res, err}
	}()
	return done
}

// Two attempts of one tenant overlap (a timed-out invocation still running beside its
// retry), and a third tenant wants the same account. The lease is the first attempt's: the
// second is refused like any busy account. Once that lease has expired and the tenant's
// retry holds the account, the first attempt ends and releases, and the retry's lease
// stands: the third tenant waits for it instead of sending beside it. No account is used by
// two deployments at once: the retry built its create on the account's next sequence
// number before the third tenant could lease, and the double rejects a reused one
// (txBAD_SEQ), so every deployment succeeding, each transaction applied, shows it.
func TestALeaseBelongsToOneAttempt(t *testing.T) {
	t.Parallel()
	p := newPool(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // a failed test leaves no deployment waiting at a gate
	addr := p.signers[0].Address()
	mustDeploy(t, p.deployer(3*time.Second), uuid.Must(uuid.NewV7())) // the Wasm, once
	tenant, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())

	// The first attempt leases the account and stops there.
	firstGate := p.gate("GetLedgerEntries")
	firstCtx, kill := context.WithCancel(ctx)
	first := goDeploy(firstCtx, p.deployerWith(3*time.Second, firstGate), tenant)
	firstGate.reached(t, "the first attempt")

	// A second attempt of the tenant waits for the account, and gives up.
	secondGate := p.gate("GetLedgerEntries")
	secondCtx, stop := context.WithTimeout(ctx, time.Second)
	_, err := p.deployerWith(200*time.Millisecond, secondGate).Deploy(secondCtx, tenant)
	stop()
	select {
	case <-secondGate.arrived:
		t.Error("a second attempt of the tenant got the account while the first held it")
	default:
		if got := fault.Name(err); got != "TransientError" {
			t.Errorf("second attempt: %v (%s), want a TransientError", err, got)
		}
	}

	// The first attempt outlives its lease; the tenant's retry takes the account and stops at
	// its create's send.
	if _, err := p.db.Exec(ctx, `UPDATE deployer_leases SET expires_at = now() - interval '1 second'
		WHERE address = $1 AND holder IS NOT NULL`, addr); err != nil {
		t.Fatal(err)
	}
	retryGate := p.gate("SendTransaction")
	retry := goDeploy(ctx, p.deployerWith(3*time.Second, retryGate), tenant)
	retryGate.reached(t, "the retry")

	// The first attempt ends, as at its invocation's deadline, and releases its lease.
	kill()
	if r := <-first; r.err == nil {
		t.Errorf("the first attempt, killed, returned %+v", r.res)
	}
	var holder *uuid.UUID
	var live bool
	if err := p.db.QueryRow(ctx, `SELECT holder, coalesce(expires_at > now(), false) FROM deployer_leases WHERE address = $1`,
		addr).Scan(&holder, &live); err != nil {
		t.Fatal(err)
	}
	if holder == nil || *holder != tenant || !live {
		t.Errorf("after the first attempt's release the account is leased to %v (live: %v); want the retry's lease standing", holder, live)
	}

	// The third tenant is refused while the retry holds the account, and gets it after.
	_, err = p.deployer(200*time.Millisecond).Deploy(ctx, other)
	if got := fault.Name(err); got != "TransientError" {
		t.Errorf("another tenant while the retry holds the account: %v (%s), want a TransientError", err, got)
	}
	third := goDeploy(ctx, p.deployer(10*time.Second), other)
	close(retryGate.open)
	for _, c := range []struct {
		who  string
		done <-chan deployed
	}{{"the retry", retry}, {"the third tenant", third}} {
		if r := <-c.done; r.err != nil || !r.res.Created {
			t.Errorf("%s: %+v, %v; want its contract created", c.who, r.res, r.err)
		}
	}
	for _, tx := range p.double.Transactions() {
		if tx.Status != "SUCCESS" {
			t.Errorf("transaction %s ended %s: %s", tx.Hash, tx.Status, tx.Error)
		}
	}
}
