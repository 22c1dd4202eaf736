package stellarrpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"testing"
	"time"

	client "github.com/stellar/go/clients/rpcclient"
	"github.com/stellar/go/keypair"
	"github.com/stellar/go/network"
	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/protocols/stellarcore"
	"github.com/stellar/go/txnbuild"
	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/wasm"
)

const (
	testPassphrase = network.TestNetworkPassphrase
	startBalance   = 100_0000000 // 100 XLM
)

// testEnv is a double behind a real HTTP server, the real client, and a funded deployer.
type testEnv struct {
	t   *testing.T
	srv *Server
	rpc *client.Client
	url string
	kp  *keypair.Full
}

func newEnv(t *testing.T, opts ...Option) *testEnv {
	t.Helper()
	srv := New(testPassphrase, opts...)
	hs := httptest.NewServer(srv)
	rpc := client.NewClient(hs.URL, nil)
	t.Cleanup(func() {
		rpc.Close()
		hs.Close()
		srv.Close()
	})
	kp := seedKey(0)
	srv.Fund(kp.Address(), startBalance)
	return &testEnv{t: t, srv: srv, rpc: rpc, url: hs.URL, kp: kp}
}

// seedKey is keypair.FromRawSeed of offset, offset+1, …; offset 0 is the sheet's deployer.
func seedKey(offset byte) *keypair.Full {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(i) + offset
	}
	kp, err := keypair.FromRawSeed(seed)
	if err != nil {
		panic(err)
	}
	return kp
}

// module is a minimal Wasm module exporting one function under name (wat2wasm's output).
func module(name string) []byte {
	b := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
		0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7e, // type section: () -> i64
		0x03, 0x02, 0x01, 0x00, // function section
	}
	exp := append([]byte{0x01, byte(len(name))}, name...)
	exp = append(exp, 0x00, 0x00) // func 0
	b = append(b, 0x07, byte(len(exp)))
	b = append(b, exp...)
	return append(b, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x02, 0x0b) // code: i64.const 2
}

// contract is module(name) with the contractenvmetav0 section the host requires.
func contract(name string, protocol uint32) []byte {
	return wasm.AppendCustomSection(module(name), wasm.EnvMetaSection, wasm.EnvMeta(protocol, 0))
}

var testWasm = contract("f", 22)

func testSalt() [32]byte { return sha256.Sum256([]byte("sorobanprobe/contract/v1")) }

func uploadOp(code []byte) *txnbuild.InvokeHostFunction {
	return &txnbuild.InvokeHostFunction{HostFunction: xdr.HostFunction{
		Type: xdr.HostFunctionTypeHostFunctionTypeUploadContractWasm,
		Wasm: &code,
	}}
}

func createOp(deployer string, salt [32]byte, wasmHash [32]byte, args ...xdr.ScVal) *txnbuild.InvokeHostFunction {
	acct := xdr.MustAddress(deployer)
	hash := xdr.Hash(wasmHash)
	return &txnbuild.InvokeHostFunction{HostFunction: xdr.HostFunction{
		Type: xdr.HostFunctionTypeHostFunctionTypeCreateContractV2,
		CreateContractV2: &xdr.CreateContractArgsV2{
			ContractIdPreimage: xdr.ContractIdPreimage{
				Type: xdr.ContractIdPreimageTypeContractIdPreimageFromAddress,
				FromAddress: &xdr.ContractIdPreimageFromAddress{
					Address: xdr.ScAddress{Type: xdr.ScAddressTypeScAddressTypeAccount, AccountId: &acct},
					Salt:    salt,
				},
			},
			Executable:      xdr.ContractExecutable{Type: xdr.ContractExecutableTypeContractExecutableWasm, WasmHash: &hash},
			ConstructorArgs: args,
		},
	}}
}

func (e *testEnv) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *testEnv) account() txnbuild.SimpleAccount {
	e.t.Helper()
	acct, err := e.rpc.LoadAccount(e.ctx(), e.kp.Address())
	if err != nil {
		e.t.Fatalf("LoadAccount: %v", err)
	}
	return *acct.(*txnbuild.SimpleAccount)
}

func (e *testEnv) build(acct *txnbuild.SimpleAccount, ops ...txnbuild.Operation) *txnbuild.Transaction {
	e.t.Helper()
	tx, err := txnbuild.NewTransaction(txnbuild.TransactionParams{
		SourceAccount:        acct,
		IncrementSequenceNum: true,
		Operations:           ops,
		BaseFee:              txnbuild.MinBaseFee,
		Preconditions:        txnbuild.Preconditions{TimeBounds: txnbuild.NewTimeout(300)},
	})
	if err != nil {
		e.t.Fatalf("NewTransaction: %v", err)
	}
	return tx
}

// simulate runs a draft built on a copy of acct: IncrementSequenceNum mutates its account.
func (e *testEnv) simulate(acct txnbuild.SimpleAccount, op txnbuild.Operation) protocol.SimulateTransactionResponse {
	e.t.Helper()
	b64, err := e.build(&acct, op).Base64()
	if err != nil {
		e.t.Fatal(err)
	}
	sim, err := e.rpc.SimulateTransaction(e.ctx(), protocol.SimulateTransactionRequest{Transaction: b64})
	if err != nil {
		e.t.Fatalf("SimulateTransaction: %v", err)
	}
	return sim
}

// assemble applies a successful simulation to op, as the sheet's deploy flow does.
func (e *testEnv) assemble(op *txnbuild.InvokeHostFunction, sim protocol.SimulateTransactionResponse) {
	e.t.Helper()
	if sim.Error != "" {
		e.t.Fatalf("simulation failed: %s", sim.Error)
	}
	var data xdr.SorobanTransactionData
	if err := xdr.SafeUnmarshalBase64(sim.TransactionDataXDR, &data); err != nil {
		e.t.Fatal(err)
	}
	op.Ext = xdr.TransactionExt{V: 1, SorobanData: &data}
	op.Auth = nil
	for _, a := range *sim.Results[0].AuthXDR {
		var entry xdr.SorobanAuthorizationEntry
		if err := xdr.SafeUnmarshalBase64(a, &entry); err != nil {
			e.t.Fatal(err)
		}
		op.Auth = append(op.Auth, entry)
	}
}

// prepare loads the account, simulates, assembles and builds the final (unsigned) transaction.
func (e *testEnv) prepare(op *txnbuild.InvokeHostFunction) *txnbuild.Transaction {
	e.t.Helper()
	acct := e.account()
	e.assemble(op, e.simulate(acct, op))
	return e.build(&acct, op)
}

// sign signs env for passphrase with kps and returns it in base64 with its hash on this network.
func (e *testEnv) sign(env xdr.TransactionEnvelope, passphrase string, kps ...*keypair.Full) (string, string) {
	e.t.Helper()
	h, err := network.HashTransactionInEnvelope(env, passphrase)
	if err != nil {
		e.t.Fatal(err)
	}
	env.V1.Signatures = nil
	for _, kp := range kps {
		sig, err := kp.SignDecorated(h[:])
		if err != nil {
			e.t.Fatal(err)
		}
		env.V1.Signatures = append(env.V1.Signatures, sig)
	}
	b64, err := xdr.MarshalBase64(env)
	if err != nil {
		e.t.Fatal(err)
	}
	mine, _ := network.HashTransactionInEnvelope(env, testPassphrase)
	return b64, hex.EncodeToString(mine[:])
}

// signTx signs as a client does, with txnbuild.
func (e *testEnv) signTx(tx *txnbuild.Transaction) (string, string) {
	e.t.Helper()
	signed, err := tx.Sign(testPassphrase, e.kp)
	if err != nil {
		e.t.Fatal(err)
	}
	b64, err := signed.Base64()
	if err != nil {
		e.t.Fatal(err)
	}
	hash, err := signed.HashHex(testPassphrase)
	if err != nil {
		e.t.Fatal(err)
	}
	return b64, hash
}

// envelope is a deep copy of tx's envelope, for tests that tamper with it.
func (e *testEnv) envelope(tx *txnbuild.Transaction) xdr.TransactionEnvelope {
	e.t.Helper()
	b64, err := tx.Base64()
	if err != nil {
		e.t.Fatal(err)
	}
	env, err := decodeEnvelope(b64)
	if err != nil {
		e.t.Fatal(err)
	}
	return env
}

func (e *testEnv) send(b64 string) protocol.SendTransactionResponse {
	e.t.Helper()
	resp, err := e.rpc.SendTransaction(e.ctx(), protocol.SendTransactionRequest{Transaction: b64})
	if err != nil {
		e.t.Fatalf("SendTransaction: %v", err)
	}
	return resp
}

// await polls getTransaction as a client must until the outcome is known.
func (e *testEnv) await(hash string) protocol.GetTransactionResponse {
	e.t.Helper()
	for range 10 {
		resp, err := e.rpc.GetTransaction(e.ctx(), protocol.GetTransactionRequest{Hash: hash})
		if err != nil {
			e.t.Fatalf("GetTransaction: %v", err)
		}
		if resp.Status != protocol.TransactionStatusNotFound {
			return resp
		}
	}
	e.t.Fatalf("transaction %s still NOT_FOUND", hash)
	return protocol.GetTransactionResponse{}
}

// run takes op through the whole deploy flow and returns the final getTransaction answer.
func (e *testEnv) run(op *txnbuild.InvokeHostFunction) protocol.GetTransactionResponse {
	e.t.Helper()
	b64, hash := e.signTx(e.prepare(op))
	if got := e.send(b64); got.Status != stellarcore.TXStatusPending || got.Hash != hash {
		e.t.Fatalf("send = %s %s (%s), want PENDING %s", got.Status, got.Hash, got.ErrorResultXDR, hash)
	}
	return e.await(hash)
}

func (e *testEnv) upload(code []byte) [32]byte {
	e.t.Helper()
	if got := e.run(uploadOp(code)); got.Status != protocol.TransactionStatusSuccess {
		e.t.Fatalf("upload: %s", got.Status)
	}
	return sha256.Sum256(code)
}

func decodeResult(t *testing.T, b64 string) xdr.TransactionResult {
	t.Helper()
	var r xdr.TransactionResult
	if err := xdr.SafeUnmarshalBase64(b64, &r); err != nil {
		t.Fatalf("result xdr: %v", err)
	}
	return r
}

func invokeResult(t *testing.T, b64 string) (xdr.TransactionResultCode, xdr.InvokeHostFunctionResultCode) {
	t.Helper()
	r := decodeResult(t, b64)
	ops := *r.Result.Results
	return r.Result.Code, ops[0].Tr.InvokeHostFunctionResult.Code
}

// returnValue reads the host function's return value the way the sheet tells clients to.
func returnValue(t *testing.T, b64 string) (int32, xdr.ScVal) {
	t.Helper()
	var meta xdr.TransactionMeta
	if err := xdr.SafeUnmarshalBase64(b64, &meta); err != nil {
		t.Fatalf("meta xdr: %v", err)
	}
	switch meta.V {
	case 3:
		return 3, meta.MustV3().SorobanMeta.ReturnValue
	case 4:
		return 4, *meta.MustV4().SorobanMeta.ReturnValue
	}
	t.Fatalf("meta version %d", meta.V)
	return 0, xdr.ScVal{}
}
