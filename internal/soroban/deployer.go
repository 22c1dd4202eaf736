package soroban

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/google/uuid"
	"github.com/stellar/go/keypair"
	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/txnbuild"
	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/wasm"
)

// RPC is the part of the Stellar RPC client (*client.Client from clients/rpcclient) the
// deployer uses.
type RPC interface {
	GetNetwork(ctx context.Context) (protocol.GetNetworkResponse, error)
	GetLedgerEntries(ctx context.Context, req protocol.GetLedgerEntriesRequest) (protocol.GetLedgerEntriesResponse, error)
	LoadAccount(ctx context.Context, address string) (txnbuild.Account, error)
	SimulateTransaction(ctx context.Context, req protocol.SimulateTransactionRequest) (protocol.SimulateTransactionResponse, error)
	SendTransaction(ctx context.Context, req protocol.SendTransactionRequest) (protocol.SendTransactionResponse, error)
	GetTransaction(ctx context.Context, req protocol.GetTransactionRequest) (protocol.GetTransactionResponse, error)
}

// Accounts leases the deployer accounts of a pool, one deployment per account at a time,
// across processes: the network takes one pending transaction per source account, so two
// deployments sending from one would collide on its sequence number (txBAD_SEQ). A tenant
// is pinned to the account its first lease gave it, since its contract id follows from that
// account: every later attempt leases that one again.
type Accounts interface {
	// Lease returns the tenant's account among addresses (its pinned one, or a free one it
	// pins), leased to this call until release or until the lease expires, or ok false
	// while that account is leased to another deployment (or, unpinned, every one is). A
	// lease belongs to one attempt, not to its tenant: another attempt of the same tenant
	// (a timed-out invocation still running beside its retry) is refused like any other,
	// and release ends this lease only, never one taken after it expired.
	Lease(ctx context.Context, tenantID uuid.UUID, addresses []string) (address string, release func(), ok bool, err error)
}

// Config builds a Deployer.
type Config struct {
	RPC        RPC
	Passphrase string // the network this deployer signs for
	// Signers are the pool of deployer accounts, each a transaction's source and its
	// contract's deployer; Accounts leases them, one deployment per account at a time, so
	// the accounts deploy in parallel.
	Signers  []*keypair.Full
	Accounts Accounts
	// Wasm is the contract to install when the network lacks it; WasmHash names an already
	// installed one. One of the two is required; with Wasm, WasmHash is derived.
	Wasm     []byte
	WasmHash string
	// Journal, when set, records each transaction before it is sent (see Journal).
	Journal Journal
	// ConfirmTimeout bounds the wait for each transaction; PollInterval is the pause
	// between status checks (ledgers close every ~5 s on the public networks).
	ConfirmTimeout time.Duration
	PollInterval   time.Duration
}

// Deployer deploys tenant contracts. Build one per container.
type Deployer struct {
	rpc            RPC
	passphrase     string
	signers        map[string]*keypair.Full // the pool, by address
	addresses      []string
	accounts       Accounts
	wasm           []byte
	wasmHash       xdr.Hash
	withArgs       bool
	journal        Journal
	confirmTimeout time.Duration
	pollInterval   time.Duration
	// networkChecked is set once the RPC server has said it serves our network; a
	// container keeps its RPC URL, so later deployments skip the question.
	networkChecked atomic.Bool
}

// New checks the configuration and returns a Deployer.
func New(cfg Config) (*Deployer, error) {
	const op = "configure contract deployer"
	d := &Deployer{rpc: cfg.RPC, passphrase: cfg.Passphrase, wasm: cfg.Wasm, journal: cfg.Journal,
		accounts: cfg.Accounts, signers: map[string]*keypair.Full{},
		confirmTimeout: cfg.ConfirmTimeout, pollInterval: cfg.PollInterval, withArgs: true}
	switch {
	case cfg.RPC == nil || cfg.Passphrase == "" || cfg.Accounts == nil || len(cfg.Signers) == 0:
		return nil, &fault.ConfigError{Op: op, Msg: "RPC client, passphrase, deployer signers and their accounts are required"}
	case cfg.Wasm != nil:
		protocolVersion, err := wasm.InterfaceProtocol(cfg.Wasm)
		if err != nil {
			return nil, &fault.ConfigError{Op: op, Msg: "contract Wasm is not a Soroban contract", Err: err}
		}
		// Constructors exist from protocol 22 on; an older contract takes no arguments.
		d.withArgs = protocolVersion >= 22
		d.wasmHash = sha256.Sum256(cfg.Wasm)
		if cfg.WasmHash != "" && cfg.WasmHash != hex.EncodeToString(d.wasmHash[:]) {
			return nil, &fault.ConfigError{Op: op, Msg: "configured Wasm hash does not match the Wasm file"}
		}
	case cfg.WasmHash != "":
		h, err := ParseWasmHash(cfg.WasmHash)
		if err != nil {
			return nil, &fault.ConfigError{Op: op, Msg: err.Error()}
		}
		d.wasmHash = h
	default:
		return nil, &fault.ConfigError{Op: op, Msg: "a contract Wasm or Wasm hash is required"}
	}
	if d.confirmTimeout <= 0 {
		d.confirmTimeout = 60 * time.Second
	}
	if d.pollInterval <= 0 {
		d.pollInterval = time.Second
	}
	for _, k := range cfg.Signers {
		if _, dup := d.signers[k.Address()]; !dup {
			d.signers[k.Address()] = k
			d.addresses = append(d.addresses, k.Address())
		}
	}
	return d, nil
}

// Result describes a tenant's contract after Deploy.
type Result struct {
	ContractID   string   `json:"contractId"`
	WasmHash     string   `json:"wasmHash"`
	Created      bool     `json:"created"`      // false: it existed already (a retry)
	WasmUploaded bool     `json:"wasmUploaded"` // the Wasm was installed by this call
	Restored     bool     `json:"restored"`     // an archived entry was restored
	Transactions []string `json:"transactions"` // hashes of the transactions sent
}

// Deploy makes sure the tenant's contract exists and runs the configured Wasm. It never
// creates a second contract for a tenant: the contract id follows from the tenant id, and
// an existing instance is returned as it is (after checking its Wasm).
func (d *Deployer) Deploy(ctx context.Context, tenantID uuid.UUID) (Result, error) {
	const op = "deploy contract"
	if !d.networkChecked.Load() {
		net, err := d.rpc.GetNetwork(ctx)
		if err != nil {
			return Result{}, rpcError(op, err)
		}
		if net.Passphrase != d.passphrase {
			return Result{}, &fault.ConfigError{Op: op, Msg: "the RPC server serves another network than the configured one"}
		}
		d.networkChecked.Store(true)
	}
	// Deployments from one account are serialised: each transaction takes the account's
	// next sequence number. The account comes first, before any look-up: the contract id
	// follows from it; a retry that finds its contract pays a lease it did not need, the
	// common first attempt saves a round trip.
	signer, release, err := d.account(ctx, tenantID)
	if err != nil {
		return Result{}, err
	}
	defer release()
	j := &job{tenantID: tenantID, signer: signer}
	addr, id, err := ContractID(d.passphrase, signer.Address(), Salt(tenantID))
	if err != nil {
		return Result{}, &fault.InvariantError{Op: op, Msg: "cannot derive the contract id", Err: err}
	}
	j.res = Result{ContractID: addr, WasmHash: hex.EncodeToString(d.wasmHash[:]), Transactions: []string{}}
	res := &j.res

	// A transaction an earlier attempt sent and never saw settle is settled first: a create
	// still in flight must land or expire before this attempt looks, or it would send a
	// second one.
	if err := d.resume(ctx, j); err != nil {
		return *res, err
	}

	// The instance (an earlier attempt, or another container, may have made it) and the
	// Wasm, in one request.
	found, err := d.entries(ctx, instanceKey(id), codeKey(d.wasmHash))
	if err != nil {
		return *res, err
	}
	inst, code := found[0], found[1]
	switch inst.state {
	case live:
		return *res, d.verify(ctx, id)
	case archived:
		// An archived instance is restored, never recreated: creating again would fail,
		// and the contract's storage lives on in the archive.
		if err := d.restore(ctx, j, instanceKey(id)); err != nil {
			return *res, err
		}
		return *res, d.verify(ctx, id)
	}

	if err := d.ensureWasm(ctx, j, code); err != nil {
		return *res, err
	}
	if err := d.create(ctx, j, id); err != nil {
		return *res, err
	}
	// Not read back: the transaction that created the instance named its Wasm, and the
	// network applied it. Every other path returns an instance it did not create, which
	// verify checks.
	res.Created = true
	return *res, nil
}

// job is one deployment: the tenant, the account it sends from, what it has done.
type job struct {
	tenantID uuid.UUID
	signer   *keypair.Full
	res      Result
}

// account is the deployer account the tenant's deployment sends from, leased until
// release: the tenant's account of the pool, waited for (polling) while another deployment
// holds it, up to the confirm timeout.
func (d *Deployer) account(ctx context.Context, tenantID uuid.UUID) (*keypair.Full, func(), error) {
	const op = "lease deployer account"
	wait, cancel := context.WithTimeout(ctx, d.confirmTimeout)
	defer cancel()
	for {
		addr, release, ok, err := d.accounts.Lease(ctx, tenantID, d.addresses)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			signer, known := d.signers[addr]
			if !known {
				release()
				return nil, nil, &fault.ConfigError{Op: op, Msg: "the tenant's deployer account is not among the configured ones"}
			}
			return signer, release, nil
		}
		select {
		case <-wait.Done():
			return nil, nil, &fault.TransientError{Op: op, Msg: "every deployer account the tenant may use is busy"}
		case <-time.After(d.pollInterval):
		}
	}
}

// resume settles the tenant's journalled transactions that an earlier attempt sent and
// never saw settle (transaction.resume). Only one still without a verdict stops the
// deployment (a TransientError: the next attempt resumes it again).
func (d *Deployer) resume(ctx context.Context, j *job) error {
	if d.journal == nil {
		return nil
	}
	pending, err := d.journal.Unsettled(ctx, j.tenantID)
	if err != nil {
		return err
	}
	for _, p := range pending {
		if err := d.journalled(j.tenantID, p).resume(ctx); err != nil {
			return err
		}
	}
	return nil
}

// submit runs one operation as a transaction of the deployment (see transaction) and
// returns its host function's return value (nil for a restore).
func (d *Deployer) submit(ctx context.Context, j *job, op string, operation txnbuild.Operation, restoreKeys ...xdr.LedgerKey) (*xdr.ScVal, error) {
	t, err := d.newTransaction(ctx, j.tenantID, j.signer, op, operation, restoreKeys...)
	if err != nil {
		return nil, err
	}
	// In the result too, for the step's log.
	j.res.Transactions = append(j.res.Transactions, t.hash)
	o, err := t.submit(ctx)
	if err != nil {
		return nil, err
	}
	return o.value, nil
}

// ensureWasm installs the Wasm, or restores it, unless code says it is live.
func (d *Deployer) ensureWasm(ctx context.Context, j *job, code ledgerEntry) error {
	switch code.state {
	case live:
		return nil
	case archived:
		return d.restore(ctx, j, codeKey(d.wasmHash))
	}
	if d.wasm == nil {
		return &fault.ConfigError{Op: "install contract Wasm", Msg: "the configured Wasm hash is not installed on this network and no Wasm file is configured"}
	}
	fn := xdr.HostFunction{Type: xdr.HostFunctionTypeHostFunctionTypeUploadContractWasm, Wasm: &d.wasm}
	if _, err := d.submit(ctx, j, "install contract Wasm", &txnbuild.InvokeHostFunction{HostFunction: fn, SourceAccount: j.signer.Address()}); err != nil {
		return err
	}
	j.res.WasmUploaded = true
	return nil
}

func (d *Deployer) create(ctx context.Context, j *job, id xdr.ContractId) error {
	const op = "create contract"
	preimage, err := fromAddress(j.signer.Address(), Salt(j.tenantID))
	if err != nil {
		return &fault.InvariantError{Op: op, Msg: "cannot build the contract preimage", Err: err}
	}
	hash := d.wasmHash
	args := xdr.CreateContractArgsV2{
		ContractIdPreimage: preimage,
		Executable:         xdr.ContractExecutable{Type: xdr.ContractExecutableTypeContractExecutableWasm, WasmHash: &hash},
		ConstructorArgs:    []xdr.ScVal{},
	}
	if d.withArgs {
		th := TenantHash(j.tenantID)
		tenantBytes := xdr.ScBytes(th[:])
		admin := *preimage.FromAddress
		args.ConstructorArgs = []xdr.ScVal{
			{Type: xdr.ScValTypeScvBytes, Bytes: &tenantBytes},
			{Type: xdr.ScValTypeScvAddress, Address: &admin.Address},
		}
	}
	fn := xdr.HostFunction{Type: xdr.HostFunctionTypeHostFunctionTypeCreateContractV2, CreateContractV2: &args}
	ret, err := d.submit(ctx, j, op, &txnbuild.InvokeHostFunction{HostFunction: fn, SourceAccount: j.signer.Address()})
	if err != nil {
		return err
	}
	if ret != nil && (ret.Type != xdr.ScValTypeScvAddress || ret.Address == nil || ret.Address.ContractId == nil || *ret.Address.ContractId != id) {
		return &fault.InvariantError{Op: op, Msg: "the network created a contract with another id than derived"}
	}
	return nil
}

func (d *Deployer) restore(ctx context.Context, j *job, key xdr.LedgerKey) error {
	if _, err := d.submit(ctx, j, "restore archived entry", &txnbuild.RestoreFootprint{SourceAccount: j.signer.Address()}, key); err != nil {
		return err
	}
	j.res.Restored = true
	return nil
}

// verify reads the contract instance back and checks it runs the configured Wasm.
func (d *Deployer) verify(ctx context.Context, id xdr.ContractId) error {
	const op = "verify contract"
	e, err := d.entry(ctx, instanceKey(id))
	if err != nil {
		return err
	}
	if e.state != live {
		return &fault.TransientError{Op: op, Msg: "contract instance not visible yet"}
	}
	cd, ok := e.data.GetContractData()
	if !ok || cd.Val.Type != xdr.ScValTypeScvContractInstance || cd.Val.Instance == nil {
		return &fault.InvariantError{Op: op, Msg: "ledger entry is not a contract instance"}
	}
	exe := cd.Val.Instance.Executable
	if exe.Type != xdr.ContractExecutableTypeContractExecutableWasm || exe.WasmHash == nil || *exe.WasmHash != d.wasmHash {
		return &fault.InvariantError{Op: op, Msg: "contract runs another Wasm than the configured one"}
	}
	return nil
}

type entryState int

const (
	missing entryState = iota
	live
	archived
)

type ledgerEntry struct {
	state entryState
	data  xdr.LedgerEntryData
}

// entry looks a ledger key up: absent, live, or archived (returned with its live-until
// ledger below the latest one).
func (d *Deployer) entry(ctx context.Context, key xdr.LedgerKey) (ledgerEntry, error) {
	found, err := d.entries(ctx, key)
	if err != nil {
		return ledgerEntry{}, err
	}
	return found[0], nil
}

// entries reads the ledger entries under keys in one request, in the order of keys.
func (d *Deployer) entries(ctx context.Context, keys ...xdr.LedgerKey) ([]ledgerEntry, error) {
	const op = "read ledger entry"
	encoded := make([]string, len(keys))
	for i, key := range keys {
		k, err := xdr.MarshalBase64(key)
		if err != nil {
			return nil, &fault.InvariantError{Op: op, Msg: "cannot encode ledger key", Err: err}
		}
		encoded[i] = k
	}
	resp, err := d.rpc.GetLedgerEntries(ctx, protocol.GetLedgerEntriesRequest{Keys: encoded})
	if err != nil {
		return nil, rpcError(op, err)
	}
	out := make([]ledgerEntry, len(keys)) // missing unless the answer has the key
	for _, e := range resp.Entries {
		i := slices.Index(encoded, e.KeyXDR)
		if i < 0 {
			return nil, &fault.InvariantError{Op: op, Msg: "RPC answered with an entry that was not asked for"}
		}
		var data xdr.LedgerEntryData
		if err := xdr.SafeUnmarshalBase64(e.DataXDR, &data); err != nil {
			return nil, &fault.InvariantError{Op: op, Msg: "malformed ledger entry from RPC", Err: err}
		}
		out[i] = ledgerEntry{state: live, data: data}
		if e.LiveUntilLedgerSeq != nil && *e.LiveUntilLedgerSeq < resp.LatestLedger {
			out[i].state = archived
		}
	}
	return out, nil
}

// rpcError classifies a failed RPC call. Transport trouble and server errors are
// transient; a JSON-RPC "invalid request/params" answer means we sent something wrong.
func rpcError(op string, err error) error {
	if k := fault.Known(err); k != nil {
		return k
	}
	var rpcErr *jrpc2.Error
	if errors.As(err, &rpcErr) {
		switch rpcErr.Code {
		case jrpc2.ParseError, jrpc2.InvalidRequest, jrpc2.MethodNotFound, jrpc2.InvalidParams:
			return &fault.InvariantError{Op: op, Msg: fmt.Sprintf("RPC rejected the request (code %d)", rpcErr.Code), Err: err}
		}
	}
	return &fault.TransientError{Op: op, Msg: "Stellar RPC unavailable", Err: err}
}
