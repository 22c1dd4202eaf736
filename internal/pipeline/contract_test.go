package pipeline

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	client "github.com/stellar/go/clients/rpcclient"
	"github.com/stellar/go/keypair"

	anchor "github.com/healthstack/tenant-provisioning/contracts/tenant-anchor"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/local/stellarrpc"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// withContracts wires the deploy step to a Stellar RPC double through the real rpcclient.
func withContracts(t *testing.T, e *env, opts ...stellarrpc.Option) *stellarrpc.Server {
	t.Helper()
	double := stellarrpc.New(config.PassphraseLocal, opts...)
	srv := httptest.NewServer(double)
	t.Cleanup(func() { srv.Close(); double.Close() })
	signer := keypair.MustRandom()
	double.Fund(signer.Address(), 10_000_0000000)
	d, err := soroban.New(soroban.Config{RPC: client.NewClient(srv.URL, nil), Passphrase: config.PassphraseLocal,
		Signers: []*keypair.Full{signer}, Wasm: anchor.Wasm, Accounts: store.New(e.stepPool).ContractDeployments(time.Minute),
		ConfirmTimeout: 3 * time.Second, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	WithContracts(d)(e.steps)
	return double
}

func TestDeploySorobanContractStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	double := withContracts(t, e)
	tn := e.reserve("Contract Step Clinic")
	e.runSteps(tn.ID, 4)
	out, err := e.steps.DeploySorobanContract(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := double.Instance(out.ContractID); !ok || !out.Created {
		t.Fatalf("output = %+v; contract on the ledger: %v", out, ok)
	}
	again, err := e.steps.DeploySorobanContract(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
	if err != nil || again.ContractID != out.ContractID || again.Created {
		t.Errorf("re-run = %+v, %v", again, err)
	}
	if _, err := e.steps.StoreContractAddress(e.ctx, StoreContractAddressInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), ContractID: out.ContractID}); err != nil {
		t.Fatal(err)
	}
	if st := e.state(tn.ID); st.ContractID != out.ContractID {
		t.Errorf("stored contract = %q", st.ContractID)
	}
}

// A contract deployed before a later step failed cannot be undone; the rollback reports it
// as what remains, even when it was never stored on the tenant.
func TestRollbackReportsADeployedContract(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withContracts(t, e)
	tn := e.reserve("Half Deployed Clinic")
	e.runSteps(tn.ID, 4)
	out, err := e.steps.DeploySorobanContract(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), Error: &CaughtError{Error: "States.Timeout"}})
	if err != nil {
		t.Fatal(err)
	}
	if rb.Outcome != "dirty" || len(rb.Remaining) != 1 || !strings.Contains(rb.Remaining[0], out.ContractID) {
		t.Errorf("rollback = %+v", rb)
	}
	assertRolledBack(t, e, tn.ID, "States.Timeout")
}

func TestDeploySorobanContractErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.reserve("Unconfigured Contract Clinic")
	e.runSteps(tn.ID, 4)
	_, err := e.steps.DeploySorobanContract(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
	if fault.Name(err) != "ConfigError" {
		t.Errorf("without a deployer: %v", err)
	}
	double := withContracts(t, e)
	double.Inject(stellarrpc.Fault{Method: "getNetwork", Kind: stellarrpc.FaultUnavailable})
	_, err = e.steps.DeploySorobanContract(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
	if fault.Name(err) != "TransientError" {
		t.Errorf("RPC unavailable: %v", err)
	}
	logs := e.logRows(tn.ID)
	if last := logs[len(logs)-1]; last.Step != catalog.DeploySorobanContract.Log || last.Status != store.LogFailed || last.Attempt != 2 {
		t.Errorf("last log = %+v", last)
	}
}

// While the contract step waits on the network (a double that applies transactions at its
// next ledger close, as a real network does every ~5 s), no connection of the database is
// idle in a transaction: the step holds neither a transaction nor the tenant's row lock
// across its RPCs.
func TestContractStepHoldsNoTransactionWhileItWaits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	double := withContracts(t, e, stellarrpc.WithLedgerClose(400*time.Millisecond))
	tn := e.reserve("Waiting Contract Clinic")
	e.runSteps(tn.ID, 4)
	var out soroban.Result
	e.holdsNoTransactionWhile(func() (err error) {
		out, err = e.steps.DeploySorobanContract(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
		return err
	})
	if !out.Created || len(double.Transactions()) < 2 {
		t.Errorf("output %+v, %d transactions; want the upload and the create", out, len(double.Transactions()))
	}
}
