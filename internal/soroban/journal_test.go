package soroban_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	client "github.com/stellar/go/clients/rpcclient"
	protocol "github.com/stellar/go/protocols/rpc"

	"github.com/healthstack/tenant-provisioning/internal/local/stellarrpc"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// killAfterSend is the deployer's RPC client in a Lambda that dies right after the
// network took a transaction: the send goes through, then the invocation's context ends
// before the outcome is seen, let alone recorded.
type killAfterSend struct {
	*client.Client
	kill  context.CancelFunc
	armed atomic.Bool
}

func (k *killAfterSend) SendTransaction(ctx context.Context, req protocol.SendTransactionRequest) (protocol.SendTransactionResponse, error) {
	resp, err := k.Client.SendTransaction(ctx, req)
	if k.armed.Load() {
		k.kill()
	}
	return resp, err
}

// A deployment killed after its create was sent and before its outcome was seen, on a
// network that applies it only at the next ledger close: the retry finds the journalled
// transaction, waits for it instead of sending another, and returns the same contract.
// One create was ever sent; the journal holds it settled.
func TestRetryAfterAKilledDeploymentResumesItsTransaction(t *testing.T) {
	t.Parallel()
	n := newNetwork(t, stellarrpc.WithLedgerClose(300*time.Millisecond))
	pool := testdb.New(t)
	journal := deployments(pool)
	withJournal := func(c *soroban.Config) { c.Journal = journal }
	if _, err := n.deployer(withJournal).Deploy(context.Background(), uuid.Must(uuid.NewV7())); err != nil { // Wasm installed
		t.Fatal(err)
	}
	before := len(n.double.Transactions())

	tenant := uuid.Must(uuid.NewV7())
	ctx, kill := context.WithCancel(context.Background())
	rpc := &killAfterSend{Client: client.NewClient(n.url, nil), kill: kill}
	rpc.armed.Store(true)
	_, err := n.deployer(func(c *soroban.Config) { withJournal(c); c.RPC = rpc }).Deploy(ctx, tenant)
	wantError(t, err, "TransientError")
	pending, err := journal.Unsettled(context.Background(), tenant)
	if err != nil || len(pending) != 1 {
		t.Fatalf("journal after the killed attempt: %+v, %v; want its create, unsettled", pending, err)
	}

	res, err := n.deployer(withJournal).Deploy(context.Background(), tenant)
	if err != nil || res.Created || len(res.Transactions) != 0 {
		t.Fatalf("retry = %+v, %v; want the killed attempt's contract, and no transaction sent", res, err)
	}
	if c := n.double.ContractCounts(res.ContractID); c.Creates != 1 {
		t.Errorf("creates = %d, want 1", c.Creates)
	}
	if sent := len(n.double.Transactions()) - before; sent != 1 {
		t.Errorf("%d transactions applied for the tenant, want its one create", sent)
	}
	if left, err := journal.Unsettled(context.Background(), tenant); err != nil || len(left) != 0 {
		t.Errorf("journal after the retry: %+v, %v; want it settled", left, err)
	}
	var outcome string
	if err := pool.QueryRow(context.Background(), `SELECT outcome FROM contract_transactions WHERE tx_hash = $1`, pending[0].Hash).Scan(&outcome); err != nil || outcome != soroban.OutcomeSuccess {
		t.Errorf("journalled outcome %q, %v; want SUCCESS", outcome, err)
	}
}

// A journalled transaction that never reached the network and whose time bounds have
// passed is expired, and the deployment goes on to send a fresh one.
func TestAnExpiredJournalledTransactionIsSetAside(t *testing.T) {
	t.Parallel()
	n := newNetwork(t)
	pool := testdb.New(t)
	journal := deployments(pool)
	tenant := uuid.Must(uuid.NewV7())
	const hash = "00000000000000000000000000000000000000000000000000000000000000aa"
	if err := journal.Sending(context.Background(), tenant, n.signer.Address(), hash, "AAAA",
		time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	res, err := n.deployer(func(c *soroban.Config) { c.Journal = journal }).Deploy(context.Background(), tenant)
	if err != nil || !res.Created {
		t.Fatalf("Deploy = %+v, %v", res, err)
	}
	var outcome string
	if err := pool.QueryRow(context.Background(), `SELECT outcome FROM contract_transactions WHERE tx_hash = $1`, hash).Scan(&outcome); err != nil || outcome != soroban.OutcomeExpired {
		t.Errorf("outcome %q, %v; want EXPIRED", outcome, err)
	}
}
