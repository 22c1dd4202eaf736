package soroban_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	client "github.com/stellar/go/clients/rpcclient"
	"github.com/stellar/go/keypair"
	"github.com/stellar/go/xdr"

	anchor "github.com/healthstack/tenant-provisioning/contracts/tenant-anchor"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/local/stellarrpc"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
	"github.com/healthstack/tenant-provisioning/internal/wasm"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

const localPassphrase = config.PassphraseLocal

// network is the Stellar RPC double with a funded deployer, reached through the real
// rpcclient, and the deployers' account leases on a real PostgreSQL.
type network struct {
	t        *testing.T
	double   *stellarrpc.Server
	url      string
	signer   *keypair.Full
	accounts soroban.Accounts
}

func newNetwork(t *testing.T, opts ...stellarrpc.Option) *network {
	t.Helper()
	double := stellarrpc.New(localPassphrase, opts...)
	srv := httptest.NewServer(double)
	t.Cleanup(func() { srv.Close(); double.Close() })
	signer := keypair.MustRandom()
	double.Fund(signer.Address(), 10_000_0000000) // 10,000 XLM
	return &network{t: t, double: double, url: srv.URL, signer: signer, accounts: deployments(testdb.New(t))}
}

func (n *network) deployer(mod func(*soroban.Config)) *soroban.Deployer {
	n.t.Helper()
	cfg := soroban.Config{
		RPC:            client.NewClient(n.url, nil),
		Passphrase:     localPassphrase,
		Signers:        []*keypair.Full{n.signer},
		Wasm:           anchor.Wasm,
		Accounts:       n.accounts,
		ConfirmTimeout: 3 * time.Second,
		PollInterval:   5 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := soroban.New(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	return d
}

// deployments is the control plane's journal and account leases on pool, as the step's
// wiring builds them.
func deployments(pool *pgxpool.Pool) *store.ContractDeployments {
	return store.New(pool).ContractDeployments(wiring.DeployerLease)
}

func wantError(t *testing.T, err error, name string) {
	t.Helper()
	if got := fault.Name(err); got != name {
		t.Fatalf("error = %v (%s), want %s", err, got, name)
	}
}

var anchorHash = sha256.Sum256(anchor.Wasm)

func TestFirstDeploymentInstallsWasmAndCreatesTheContract(t *testing.T) {
	t.Parallel()
	n := newNetwork(t)
	tenant := uuid.Must(uuid.NewV7())
	res := mustDeploy(t, n.deployer(nil), tenant)
	want, _, _ := soroban.ContractID(localPassphrase, n.signer.Address(), soroban.Salt(tenant))
	if res.ContractID != want || !res.Created || !res.WasmUploaded || res.Restored || len(res.Transactions) != 2 ||
		res.WasmHash != hex.EncodeToString(anchorHash[:]) {
		t.Errorf("result = %+v, want contract %s created with the Wasm uploaded in 2 transactions", res, want)
	}
	inst, ok := n.double.InstanceInfo(res.ContractID)
	if !ok || inst.WasmHash != anchorHash {
		t.Fatalf("instance on the ledger = %+v, %v", inst, ok)
	}
	// The constructor records the tenant's hash and the deployer as admin.
	th := soroban.TenantHash(tenant)
	if len(inst.ConstructorArgs) != 2 || inst.ConstructorArgs[0].Type != xdr.ScValTypeScvBytes ||
		string(*inst.ConstructorArgs[0].Bytes) != string(th[:]) || inst.ConstructorArgs[1].Type != xdr.ScValTypeScvAddress {
		t.Errorf("constructor args = %+v", inst.ConstructorArgs)
	}
	if c := n.double.CodeCounts(anchorHash); c.Uploads != 1 {
		t.Errorf("uploads = %d", c.Uploads)
	}
}

func TestSecondTenantReusesTheInstalledWasm(t *testing.T) {
	t.Parallel()
	n := newNetwork(t)
	d := n.deployer(nil)
	a := mustDeploy(t, d, uuid.Must(uuid.NewV7()))
	b := mustDeploy(t, d, uuid.Must(uuid.NewV7()))
	if a.ContractID == b.ContractID || !b.Created || b.WasmUploaded || len(b.Transactions) != 1 {
		t.Errorf("second tenant = %+v", b)
	}
	if c := n.double.CodeCounts(anchorHash); c.Uploads != 1 {
		t.Errorf("the Wasm was uploaded %d times", c.Uploads)
	}
}

func TestSameTenantTwiceCreatesOneContract(t *testing.T) {
	t.Parallel()
	n := newNetwork(t)
	tenant := uuid.Must(uuid.NewV7())
	first := mustDeploy(t, n.deployer(nil), tenant)
	sent := len(n.double.Transactions())
	// Another container (another Deployer) retries the same tenant.
	again := mustDeploy(t, n.deployer(nil), tenant)
	if again.ContractID != first.ContractID || again.Created || len(again.Transactions) != 0 {
		t.Errorf("retry = %+v", again)
	}
	if got := len(n.double.Transactions()); got != sent {
		t.Errorf("the retry sent %d transactions", got-sent)
	}
	if c := n.double.ContractCounts(first.ContractID); c.Creates != 1 {
		t.Errorf("creates = %d", c.Creates)
	}
}

// The create is applied but its answer never arrives; the deployer finds it by its hash.
func TestLostSendResponseIsRecoveredByHash(t *testing.T) {
	t.Parallel()
	n := newNetwork(t)
	d := n.deployer(nil)
	if _, err := d.Deploy(context.Background(), uuid.Must(uuid.NewV7())); err != nil { // Wasm installed
		t.Fatal(err)
	}
	n.double.Inject(stellarrpc.Fault{Method: "sendTransaction", Kind: stellarrpc.FaultLostResponse})
	tenant := uuid.Must(uuid.NewV7())
	res, err := d.Deploy(context.Background(), tenant)
	if err != nil || !res.Created {
		t.Fatalf("Deploy = %+v, %v", res, err)
	}
	if c := n.double.ContractCounts(res.ContractID); c.Creates != 1 {
		t.Errorf("creates = %d", c.Creates)
	}
}

// The create is applied, and every answer about it is lost: the attempt ends transient, and
// the retried step finds the contract by the existence check instead of creating another.
func TestRetryAfterALostDeploymentFindsTheContract(t *testing.T) {
	t.Parallel()
	n := newNetwork(t)
	d := n.deployer(func(c *soroban.Config) { c.ConfirmTimeout = 300 * time.Millisecond })
	if _, err := d.Deploy(context.Background(), uuid.Must(uuid.NewV7())); err != nil {
		t.Fatal(err)
	}
	n.double.Inject(stellarrpc.Fault{Method: "sendTransaction", Kind: stellarrpc.FaultLostResponse})
	n.double.Inject(stellarrpc.Fault{Method: "getTransaction", Kind: stellarrpc.FaultUnavailable, Times: 1000})
	tenant := uuid.Must(uuid.NewV7())
	_, err := d.Deploy(context.Background(), tenant)
	wantError(t, err, "TransientError")

	n.double.ClearFaults()
	res, err := n.deployer(nil).Deploy(context.Background(), tenant)
	if err != nil || res.Created || len(res.Transactions) != 0 {
		t.Fatalf("retry = %+v, %v; want the existing contract, no transaction", res, err)
	}
	if c := n.double.ContractCounts(res.ContractID); c.Creates != 1 {
		t.Errorf("creates = %d", c.Creates)
	}
}

func TestFaultsEndInTheRightErrorClass(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		stage  func(n *network)
		config func(c *soroban.Config)
		want   string
	}{
		{"rpc unavailable", func(n *network) {
			n.double.Inject(stellarrpc.Fault{Method: "getNetwork", Kind: stellarrpc.FaultUnavailable})
		}, nil, "TransientError"},
		{"rpc unreachable", nil, func(c *soroban.Config) { c.RPC = client.NewClient("http://127.0.0.1:1", nil) }, "TransientError"},
		{"try again later until the deadline", func(n *network) {
			n.double.Inject(stellarrpc.Fault{Method: "sendTransaction", Kind: stellarrpc.FaultTryAgainLater, Times: 1000})
		}, func(c *soroban.Config) { c.ConfirmTimeout = 200 * time.Millisecond }, "TransientError"},
		{"transaction fails in the host", func(n *network) {
			n.double.Inject(stellarrpc.Fault{Method: "sendTransaction", Kind: stellarrpc.FaultTxFailed})
		}, nil, "InvariantError"},
		{"deployer cannot pay", func(n *network) {
			poor := keypair.MustRandom()
			n.double.Fund(poor.Address(), 150)
			n.signer = poor
		}, nil, "ConfigError"},
		{"deployer not funded", func(n *network) { n.signer = keypair.MustRandom() }, nil, "ConfigError"},
		{"wrong network", nil, func(c *soroban.Config) { c.Passphrase = "Test SDF Network ; September 2015" }, "ConfigError"},
		{"hash of a Wasm that is not installed", nil, func(c *soroban.Config) {
			c.Wasm, c.WasmHash = nil, hex.EncodeToString(make([]byte, 32))
		}, "ConfigError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			n := newNetwork(t)
			if c.stage != nil {
				c.stage(n)
			}
			_, err := n.deployer(c.config).Deploy(context.Background(), uuid.Must(uuid.NewV7()))
			wantError(t, err, c.want)
		})
	}
}

// A TRY_AGAIN_LATER that clears before the deadline is waited out, resending the same
// envelope.
func TestTryAgainLaterIsRetried(t *testing.T) {
	t.Parallel()
	n := newNetwork(t)
	n.double.Inject(stellarrpc.Fault{Method: "sendTransaction", Kind: stellarrpc.FaultTryAgainLater, Times: 2})
	res, err := n.deployer(nil).Deploy(context.Background(), uuid.Must(uuid.NewV7()))
	if err != nil || !res.Created {
		t.Fatalf("Deploy = %+v, %v", res, err)
	}
}

func TestMalformedWasmIsRefused(t *testing.T) {
	t.Parallel()
	noMeta := anchor.Wasm[:len(anchor.Wasm)-1]
	for name, code := range map[string][]byte{"not wasm": []byte("hello"), "truncated": noMeta} {
		_, err := soroban.New(soroban.Config{RPC: client.NewClient("http://127.0.0.1:1", nil), Passphrase: localPassphrase,
			Signers: []*keypair.Full{keypair.MustRandom()}, Wasm: code, Accounts: deployments(nil)})
		if fault.Name(err) != "ConfigError" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := wasm.InterfaceProtocol(anchor.Wasm); err != nil {
		t.Fatal(err)
	}
}

func TestArchivedContractIsRestoredNotRecreated(t *testing.T) {
	t.Parallel()
	n := newNetwork(t)
	tenant := uuid.Must(uuid.NewV7())
	first := mustDeploy(t, n.deployer(nil), tenant)
	if !n.double.Archive(first.ContractID) {
		t.Fatal("could not archive the instance")
	}
	res, err := n.deployer(nil).Deploy(context.Background(), tenant)
	if err != nil || !res.Restored || res.Created {
		t.Fatalf("Deploy = %+v, %v", res, err)
	}
	c := n.double.ContractCounts(first.ContractID)
	if c.Creates != 1 || c.Restores != 1 {
		t.Errorf("counts = %+v", c)
	}
}

// Tenants provisioned at the same time share the deployer account; its lease keeps their
// transactions from colliding on its sequence number, which the double enforces.
func TestConcurrentDeploymentsDoNotCollide(t *testing.T) {
	t.Parallel()
	n := newNetwork(t)
	const tenants = 6
	var wg sync.WaitGroup
	errs := make([]error, tenants)
	ids := make([]string, tenants)
	for i := range tenants {
		wg.Go(func() {
			// One Deployer each, as in separate Lambda containers.
			res, err := n.deployer(nil).Deploy(context.Background(), uuid.Must(uuid.NewV7()))
			errs[i], ids[i] = err, res.ContractID
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("deployment %d: %v", i, err)
		}
		seen[ids[i]] = true
	}
	if len(seen) != tenants {
		t.Errorf("%d distinct contracts for %d tenants", len(seen), tenants)
	}
	for _, tx := range n.double.Transactions() {
		if tx.Status != "SUCCESS" {
			t.Errorf("transaction %s ended %s: %s", tx.Hash, tx.Status, tx.Error)
		}
	}
	if c := n.double.CodeCounts(anchorHash); c.Uploads != 1 {
		t.Errorf("the Wasm was uploaded %d times", c.Uploads)
	}
}

// TestDeployOnRealNetwork runs the same flow against a real Stellar RPC (testnet). It is
// opt-in: set SOROBAN_RPC_URL, SOROBAN_NETWORK_PASSPHRASE and SOROBAN_TEST_DEPLOYER_SEED (a
// funded testnet account; friendbot funds one) to run it.
func TestDeployOnRealNetwork(t *testing.T) {
	url, passphrase, seed := os.Getenv("SOROBAN_RPC_URL"), os.Getenv("SOROBAN_NETWORK_PASSPHRASE"), os.Getenv("SOROBAN_TEST_DEPLOYER_SEED")
	if url == "" || passphrase == "" || seed == "" {
		t.Skip("opt-in: set SOROBAN_RPC_URL, SOROBAN_NETWORK_PASSPHRASE and SOROBAN_TEST_DEPLOYER_SEED to deploy on a real network")
	}
	signer, err := keypair.ParseFull(seed)
	if err != nil {
		t.Fatal("SOROBAN_TEST_DEPLOYER_SEED is not a secret seed")
	}
	d, err := soroban.New(soroban.Config{RPC: client.NewClient(url, nil), Passphrase: passphrase, Signers: []*keypair.Full{signer},
		Wasm: anchor.Wasm, Accounts: deployments(testdb.New(t)), ConfirmTimeout: 2 * time.Minute, PollInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.Must(uuid.NewV7())
	res, err := d.Deploy(context.Background(), tenant)
	if err != nil || !res.Created {
		t.Fatalf("Deploy = %+v, %v", res, err)
	}
	again, err := d.Deploy(context.Background(), tenant)
	if err != nil || again.Created || again.ContractID != res.ContractID {
		t.Fatalf("second Deploy = %+v, %v", again, err)
	}
	t.Logf("contract %s (transactions %v)", res.ContractID, res.Transactions)
}

// mustDeploy deploys the tenant's contract with d, failing the test on an error.
func mustDeploy(t *testing.T, d *soroban.Deployer, tenant uuid.UUID) soroban.Result {
	t.Helper()
	res, err := d.Deploy(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
