package stellarrpc

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellar/go/keypair"
	"github.com/stellar/go/network"
	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/protocols/stellarcore"
	"github.com/stellar/go/strkey"
	"github.com/stellar/go/txnbuild"
	"github.com/stellar/go/xdr"
)

func TestNetworkHealthAndLatestLedger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []Option
		want int
	}{
		{"default protocol", nil, DefaultProtocolVersion},
		{"protocol 23", []Option{WithProtocolVersion(23)}, 23},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.opts...)
			nw, err := e.rpc.GetNetwork(e.ctx())
			if err != nil || nw.Passphrase != testPassphrase || nw.ProtocolVersion != tc.want {
				t.Fatalf("GetNetwork = %+v, %v", nw, err)
			}
			health, err := e.rpc.GetHealth(e.ctx())
			if err != nil || health.Status != "healthy" || health.LatestLedger != firstLedger {
				t.Fatalf("GetHealth = %+v, %v", health, err)
			}
			latest, err := e.rpc.GetLatestLedger(e.ctx())
			if err != nil || latest.Sequence != firstLedger || int(latest.ProtocolVersion) != tc.want || len(latest.Hash) != 64 {
				t.Fatalf("GetLatestLedger = %+v, %v", latest, err)
			}
		})
	}
}

func TestLoadAccountReflectsSequence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account()
	if acct.Sequence != int64(firstLedger)<<32 {
		t.Fatalf("sequence = %d, want ledger<<32 = %d", acct.Sequence, int64(firstLedger)<<32)
	}
	if _, err := e.rpc.LoadAccount(e.ctx(), seedKey(100).Address()); err == nil {
		t.Error("LoadAccount of an unfunded account succeeded")
	}
	e.upload(testWasm)
	if got := e.account().Sequence; got != acct.Sequence+1 {
		t.Errorf("after one transaction sequence = %d, want %d", got, acct.Sequence+1)
	}
}

// TestUploadAndCreate walks the sheet's deploy flow and pins the contract id to its vector.
func TestUploadAndCreate(t *testing.T) {
	t.Parallel()
	const wantID = "CBAS2W53ANLWBTYUF6UP4MCOWMLIAURLZZQH73KQFZ2HVCLWWFDWZB73"
	for _, tc := range []struct {
		protocol, meta int
	}{{22, 3}, {23, 4}} {
		t.Run(fmt.Sprintf("protocol %d", tc.protocol), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, WithProtocolVersion(tc.protocol))
			if e.kp.Address() != "GAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3QZ6Q" {
				t.Fatalf("deployer = %s, not the sheet's", e.kp.Address())
			}

			up := e.run(uploadOp(testWasm))
			hash := sha256.Sum256(testWasm)
			if up.Status != protocol.TransactionStatusSuccess || up.Ledger != firstLedger+1 || up.LedgerCloseTime == 0 || up.EnvelopeXDR == "" {
				t.Fatalf("upload = %+v", up)
			}
			v, ret := returnValue(t, up.ResultMetaXDR)
			if v != int32(tc.meta) || ret.Type != xdr.ScValTypeScvBytes || !bytes.Equal(*ret.Bytes, hash[:]) {
				t.Fatalf("upload meta V%d returned %v", v, ret)
			}
			if !e.srv.Code(hash) {
				t.Fatal("uploaded code not stored")
			}

			args := []xdr.ScVal{{Type: xdr.ScValTypeScvU32, U32: ptr(xdr.Uint32(7))}}
			ctorWasm := contract("__constructor", 22)
			ctorHash := e.upload(ctorWasm)
			cr := e.run(createOp(e.kp.Address(), testSalt(), ctorHash, args...))
			if cr.Status != protocol.TransactionStatusSuccess {
				t.Fatalf("create = %+v", cr)
			}
			_, ret = returnValue(t, cr.ResultMetaXDR)
			id, err := strkey.Encode(strkey.VersionByteContract, ret.Address.ContractId[:])
			if err != nil || id != wantID {
				t.Fatalf("create returned %s, want the sheet's %s", id, wantID)
			}
			if fromHelper, _ := ContractID(testPassphrase, e.kp.Address(), testSalt()); fromHelper != wantID {
				t.Errorf("ContractID = %s", fromHelper)
			}
			inst, ok := e.srv.InstanceInfo(id)
			if !ok || inst.WasmHash != ctorHash || len(inst.ConstructorArgs) != 1 || inst.Archived {
				t.Fatalf("instance = %+v, %v", inst, ok)
			}
			if c := e.srv.ContractCounts(id); c.Creates != 1 {
				t.Errorf("contract counts = %+v", c)
			}
			if c := e.srv.AccountCounts(e.kp.Address()); c != (Counts{Uploads: 2, Creates: 1}) {
				t.Errorf("account counts = %+v", c)
			}

			// The client's idempotency checks see both entries live.
			res, err := e.rpc.GetLedgerEntries(e.ctx(), protocol.GetLedgerEntriesRequest{Keys: []string{
				b64(t, codeKey(ctorHash)), b64(t, instanceKey(xdr.ContractId(*ret.Address.ContractId))), b64(t, codeKey(sha256.Sum256([]byte("absent")))),
			}})
			if err != nil || len(res.Entries) != 2 {
				t.Fatalf("GetLedgerEntries = %+v, %v", res, err)
			}
			for _, entry := range res.Entries {
				if entry.LiveUntilLedgerSeq == nil || *entry.LiveUntilLedgerSeq < res.LatestLedger {
					t.Errorf("entry %s not live: %v", entry.KeyXDR, entry.LiveUntilLedgerSeq)
				}
			}
			var data xdr.LedgerEntryData
			if err := xdr.SafeUnmarshalBase64(res.Entries[1].DataXDR, &data); err != nil || *data.ContractData.Val.Instance.Executable.WasmHash != ctorHash {
				t.Errorf("instance entry = %v, %v", data, err)
			}

			// Fees: three transactions at 100 + the resource fee each, and nothing else.
			var paid int64
			for _, tx := range e.srv.Transactions() {
				paid += tx.FeeCharged
			}
			if _, bal, _ := e.srv.Account(e.kp.Address()); bal != startBalance-paid || paid <= 300 {
				t.Errorf("balance = %d after paying %d", bal, paid)
			}
		})
	}
}

func TestReuploadSucceedsAndCostsFee(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hash := e.upload(testWasm)
	_, before, _ := e.srv.Account(e.kp.Address())
	e.upload(testWasm)
	_, after, _ := e.srv.Account(e.kp.Address())
	if after >= before {
		t.Errorf("re-upload cost nothing: %d -> %d", before, after)
	}
	if c := e.srv.CodeCounts(hash); c.Uploads != 2 {
		t.Errorf("code counts = %+v", c)
	}
}

// TestSendRejections: transactions the network refuses outright get ERROR with the right
// result code and change nothing.
func TestSendRejections(t *testing.T) {
	t.Parallel()
	other := seedKey(50)
	now := time.Now().Unix()
	cases := []struct {
		name       string
		setup      func(e *testEnv)
		mutate     func(env *xdr.TransactionEnvelope)
		passphrase string
		signers    func(e *testEnv) []*keypair.Full
		want       xdr.TransactionResultCode
	}{
		{name: "signed for another network", passphrase: network.PublicNetworkPassphrase, want: xdr.TransactionResultCodeTxBadAuth},
		{name: "unsigned", signers: func(*testEnv) []*keypair.Full { return nil }, want: xdr.TransactionResultCodeTxBadAuth},
		{name: "signed by another key", signers: func(*testEnv) []*keypair.Full { return []*keypair.Full{other} }, want: xdr.TransactionResultCodeTxBadAuth},
		{name: "extra signature", signers: func(e *testEnv) []*keypair.Full { return []*keypair.Full{e.kp, other} }, want: xdr.TransactionResultCodeTxBadAuthExtra},
		{name: "sequence reused", mutate: func(env *xdr.TransactionEnvelope) { env.V1.Tx.SeqNum-- }, want: xdr.TransactionResultCodeTxBadSeq},
		{name: "sequence skipped", mutate: func(env *xdr.TransactionEnvelope) { env.V1.Tx.SeqNum++ }, want: xdr.TransactionResultCodeTxBadSeq},
		{name: "expired", mutate: timeBounds(0, now-60), want: xdr.TransactionResultCodeTxTooLate},
		{name: "not yet valid", mutate: timeBounds(now+3600, 0), want: xdr.TransactionResultCodeTxTooEarly},
		{name: "fee below inclusion plus resource fee", mutate: func(env *xdr.TransactionEnvelope) { env.V1.Tx.Fee-- }, want: xdr.TransactionResultCodeTxInsufficientFee},
		{name: "resource fee below declared resources", mutate: func(env *xdr.TransactionEnvelope) {
			env.V1.Tx.Ext.SorobanData.ResourceFee = 1
		}, want: xdr.TransactionResultCodeTxInsufficientFee},
		{name: "no soroban data", mutate: func(env *xdr.TransactionEnvelope) { env.V1.Tx.Ext = xdr.TransactionExt{} }, want: xdr.TransactionResultCodeTxMalformed},
		{name: "memo", mutate: func(env *xdr.TransactionEnvelope) {
			text := "tenant"
			env.V1.Tx.Memo = xdr.Memo{Type: xdr.MemoTypeMemoText, Text: &text}
		}, want: xdr.TransactionResultCodeTxMalformed},
		{name: "two operations", mutate: func(env *xdr.TransactionEnvelope) {
			env.V1.Tx.Operations = append(env.V1.Tx.Operations, env.V1.Tx.Operations[0])
		}, want: xdr.TransactionResultCodeTxMalformed},
		{name: "unknown source account", mutate: func(env *xdr.TransactionEnvelope) {
			env.V1.Tx.SourceAccount = xdr.MustMuxedAddress(other.Address())
		}, signers: func(*testEnv) []*keypair.Full { return []*keypair.Full{other} }, want: xdr.TransactionResultCodeTxNoAccount},
		{name: "insufficient balance", setup: func(e *testEnv) { e.srv.Fund(e.kp.Address(), 500) }, want: xdr.TransactionResultCodeTxInsufficientBalance},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			seq, balance, _ := e.srv.Account(e.kp.Address())
			env := e.envelope(e.prepare(uploadOp(testWasm)))
			if tc.mutate != nil {
				tc.mutate(&env)
			}
			passphrase, signers := testPassphrase, []*keypair.Full{e.kp}
			if tc.passphrase != "" {
				passphrase = tc.passphrase
			}
			if tc.signers != nil {
				signers = tc.signers(e)
			}
			b64, hash := e.sign(env, passphrase, signers...)
			got := e.send(b64)
			if got.Status != stellarcore.TXStatusError || got.Hash != hash {
				t.Fatalf("send = %s %s, want ERROR", got.Status, got.Hash)
			}
			if code := decodeResult(t, got.ErrorResultXDR).Result.Code; code != tc.want {
				t.Fatalf("result = %s, want %s", code, tc.want)
			}
			if s, b, _ := e.srv.Account(e.kp.Address()); s != seq || b != balance || len(e.srv.Transactions()) != 0 {
				t.Errorf("a rejected transaction changed the ledger: seq %d->%d balance %d->%d", seq, s, balance, b)
			}
			if r, err := e.rpc.GetTransaction(e.ctx(), protocol.GetTransactionRequest{Hash: hash}); err != nil || r.Status != protocol.TransactionStatusNotFound {
				t.Errorf("GetTransaction of a rejected tx = %s, %v", r.Status, err)
			}
		})
	}
}

func timeBounds(minTime, maxTime int64) func(env *xdr.TransactionEnvelope) {
	return func(env *xdr.TransactionEnvelope) {
		env.V1.Tx.Cond = xdr.Preconditions{Type: xdr.PreconditionTypePrecondTime, TimeBounds: &xdr.TimeBounds{
			MinTime: xdr.TimePoint(minTime), MaxTime: xdr.TimePoint(maxTime),
		}}
	}
}

func TestDuplicateSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b64, hash := e.signTx(e.prepare(uploadOp(testWasm)))
	if got := e.send(b64); got.Status != stellarcore.TXStatusPending {
		t.Fatalf("first send = %s", got.Status)
	}
	if got := e.send(b64); got.Status != stellarcore.TXStatusDuplicate || got.Hash != hash {
		t.Fatalf("second send = %s %s, want DUPLICATE", got.Status, got.Hash)
	}
	if n := len(e.srv.Transactions()); n != 1 {
		t.Errorf("%d transactions applied", n)
	}
	if got := e.await(hash); got.Status != protocol.TransactionStatusSuccess {
		t.Errorf("status = %s", got.Status)
	}
}

// TestHostFailures: valid transactions whose operation fails pay the fee, consume the sequence
// number and end FAILED with the operation's result code.
func TestHostFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// tx builds a transaction that passes admission and fails in the host.
		tx     func(e *testEnv) *txnbuild.Transaction
		want   xdr.InvokeHostFunctionResultCode
		reason string
	}{
		{"second create of the same contract", func(e *testEnv) *txnbuild.Transaction {
			hash := e.upload(testWasm)
			op := createOp(e.kp.Address(), testSalt(), hash)
			first := e.prepare(op) // both prepared before either lands: two racing deployers
			acct := first.SourceAccount()
			second := e.build(&acct, op)
			b64, h := e.signTx(first)
			e.send(b64)
			if got := e.await(h); got.Status != protocol.TransactionStatusSuccess {
				e.t.Fatalf("first create = %s", got.Status)
			}
			return second
		}, xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped, "already exists"},
		{"upload without env meta", func(e *testEnv) *txnbuild.Transaction {
			return e.forced(uploadOp(module("f")), []xdr.LedgerKey{codeKey(sha256.Sum256(module("f")))}, nil)
		}, xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped, "metadata section"},
		{"upload without wasm magic", func(e *testEnv) *txnbuild.Transaction {
			junk := []byte("\x7fELF not a wasm module")
			return e.forced(uploadOp(junk), []xdr.LedgerKey{codeKey(sha256.Sum256(junk))}, nil)
		}, xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped, "bad magic"},
		{"create from missing wasm", func(e *testEnv) *txnbuild.Transaction {
			hash := sha256.Sum256([]byte("never uploaded"))
			id, _ := contractID(e.srv.networkID, createOp(e.kp.Address(), testSalt(), hash).HostFunction.CreateContractV2.ContractIdPreimage)
			return e.forced(createOp(e.kp.Address(), testSalt(), hash), []xdr.LedgerKey{instanceKey(id)}, []xdr.LedgerKey{codeKey(hash)})
		}, xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped, "not installed"},
		{"create with instance missing from read-write footprint", func(e *testEnv) *txnbuild.Transaction {
			return e.tampered(e.upload(testWasm), func(op *txnbuild.InvokeHostFunction) {
				fp := &op.Ext.SorobanData.Resources.Footprint
				fp.ReadOnly, fp.ReadWrite = append(fp.ReadOnly, fp.ReadWrite...), nil
			})
		}, xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped, "read-write"},
		{"create with code missing from footprint", func(e *testEnv) *txnbuild.Transaction {
			return e.tampered(e.upload(testWasm), func(op *txnbuild.InvokeHostFunction) {
				op.Ext.SorobanData.Resources.Footprint.ReadOnly = nil
			})
		}, xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped, "footprint"},
		{"create without auth", func(e *testEnv) *txnbuild.Transaction {
			return e.tampered(e.upload(testWasm), func(op *txnbuild.InvokeHostFunction) { op.Auth = nil })
		}, xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped, "authorization"},
		{"create with fewer instructions than needed", func(e *testEnv) *txnbuild.Transaction {
			return e.tampered(e.upload(testWasm), func(op *txnbuild.InvokeHostFunction) {
				op.Ext.SorobanData.Resources.Instructions = 1
			})
		}, xdr.InvokeHostFunctionResultCodeInvokeHostFunctionResourceLimitExceeded, "resources"},
		{"create from archived wasm", func(e *testEnv) *txnbuild.Transaction {
			hash := e.upload(testWasm)
			op := createOp(e.kp.Address(), testSalt(), hash)
			tx := e.prepare(op)
			e.srv.ArchiveCode(hash)
			return tx
		}, xdr.InvokeHostFunctionResultCodeInvokeHostFunctionEntryArchived, "archived"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tx := tc.tx(e)
			seq, balance, _ := e.srv.Account(e.kp.Address())
			before := len(e.srv.Transactions())
			b64, hash := e.signTx(tx)
			if got := e.send(b64); got.Status != stellarcore.TXStatusPending {
				t.Fatalf("send = %s (%s)", got.Status, got.ErrorResultXDR)
			}
			got := e.await(hash)
			if got.Status != protocol.TransactionStatusFailed || len(got.DiagnosticEventsXDR) == 0 {
				t.Fatalf("status = %s, diagnostics %d", got.Status, len(got.DiagnosticEventsXDR))
			}
			txCode, opCode := invokeResult(t, got.ResultXDR)
			if txCode != xdr.TransactionResultCodeTxFailed || opCode != tc.want {
				t.Fatalf("result = %s / %s, want txFAILED / %s", txCode, opCode, tc.want)
			}
			s, b, _ := e.srv.Account(e.kp.Address())
			if s != seq+1 || b >= balance {
				t.Errorf("a failed transaction must spend seq and fee: seq %d->%d balance %d->%d", seq, s, balance, b)
			}
			txs := e.srv.Transactions()
			if len(txs) != before+1 || txs[before].Status != protocol.TransactionStatusFailed || !strings.Contains(txs[before].Error, tc.reason) {
				t.Errorf("transactions = %+v", txs)
			}
		})
	}
}

// forced builds a transaction without simulation (which would refuse it), with a generous
// footprint and resources, as a client skipping simulation would.
func (e *testEnv) forced(op *txnbuild.InvokeHostFunction, readWrite, readOnly []xdr.LedgerKey) *txnbuild.Transaction {
	e.t.Helper()
	r := resources{instructions: 10_000_000, readBytes: 10_000, writeBytes: 10_000}
	data := transactionData(readOnly, readWrite, r)
	op.Ext = xdr.TransactionExt{V: 1, SorobanData: &data}
	acct := e.account()
	return e.build(&acct, op)
}

// tampered prepares a create of hash properly, then lets change spoil the operation.
func (e *testEnv) tampered(hash [32]byte, change func(op *txnbuild.InvokeHostFunction)) *txnbuild.Transaction {
	e.t.Helper()
	op := createOp(e.kp.Address(), testSalt(), hash)
	acct := e.account()
	e.assemble(op, e.simulate(acct, op))
	change(op)
	return e.build(&acct, op)
}

// TestSimulationFailures: problems simulation can see are a normal result with an error and
// diagnostics, never a JSON-RPC error.
func TestSimulationFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		op   func(e *testEnv) txnbuild.Operation
		want string
	}{
		{"create from missing wasm", func(e *testEnv) txnbuild.Operation {
			return createOp(e.kp.Address(), testSalt(), sha256.Sum256([]byte("never uploaded")))
		}, "not installed"},
		{"contract already exists", func(e *testEnv) txnbuild.Operation {
			hash := e.upload(testWasm)
			e.run(createOp(e.kp.Address(), testSalt(), hash))
			return createOp(e.kp.Address(), testSalt(), hash)
		}, "contract already exists"},
		{"upload without env meta", func(*testEnv) txnbuild.Operation { return uploadOp(module("f")) }, "metadata section"},
		{"upload of malformed wasm", func(*testEnv) txnbuild.Operation { return uploadOp([]byte("\x00asm")) }, "parse Wasm"},
		{"upload built for a newer protocol", func(*testEnv) txnbuild.Operation { return uploadOp(contract("f", 23)) }, "newer"},
		{"constructor args without __constructor", func(e *testEnv) txnbuild.Operation {
			return createOp(e.kp.Address(), testSalt(), e.upload(testWasm), xdr.ScVal{Type: xdr.ScValTypeScvVoid})
		}, "__constructor"},
		{"constructor args on a pre-22 contract", func(e *testEnv) txnbuild.Operation {
			return createOp(e.kp.Address(), testSalt(), e.upload(contract("__constructor", 21)), xdr.ScVal{Type: xdr.ScValTypeScvVoid})
		}, "protocol 22"},
		{"deployer other than the source", func(e *testEnv) txnbuild.Operation {
			return createOp(seedKey(50).Address(), testSalt(), e.upload(testWasm))
		}, "deployer"},
		{"contract invocation", func(e *testEnv) txnbuild.Operation {
			return &txnbuild.InvokeHostFunction{HostFunction: xdr.HostFunction{
				Type:           xdr.HostFunctionTypeHostFunctionTypeInvokeContract,
				InvokeContract: &xdr.InvokeContractArgs{ContractAddress: contractAddress(xdr.ContractId{1}), FunctionName: "f"},
			}}
		}, "cannot run"},
		{"classic operation", func(e *testEnv) txnbuild.Operation {
			return &txnbuild.BumpSequence{BumpTo: 1}
		}, "cannot simulate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			op := tc.op(e)
			sim := e.simulate(e.account(), op)
			if !strings.Contains(sim.Error, tc.want) || sim.TransactionDataXDR != "" || sim.LatestLedger == 0 {
				t.Fatalf("simulation = %+v, want an error mentioning %q", sim, tc.want)
			}
		})
	}
}

func TestRestoreArchivedEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hash := e.upload(testWasm)
	e.run(createOp(e.kp.Address(), testSalt(), hash))
	id, _ := ContractID(testPassphrase, e.kp.Address(), testSalt())
	cid, _ := decodeContract(id)
	if !e.srv.Archive(id) || !e.srv.ArchiveCode(hash) {
		t.Fatal("Archive found nothing")
	}

	// The client's existence check tells archived from missing.
	res, err := e.rpc.GetLedgerEntries(e.ctx(), protocol.GetLedgerEntriesRequest{Keys: []string{b64(t, instanceKey(cid))}})
	if err != nil || len(res.Entries) != 1 || *res.Entries[0].LiveUntilLedgerSeq >= res.LatestLedger {
		t.Fatalf("archived instance = %+v, %v", res, err)
	}

	// A create from archived code simulates with a restore preamble for the code.
	sim := e.simulate(e.account(), createOp(e.kp.Address(), sha256.Sum256([]byte("other salt")), hash))
	if sim.Error != "" || sim.RestorePreamble == nil || sim.RestorePreamble.MinResourceFee <= 0 {
		t.Fatalf("simulation = %+v", sim)
	}

	// Restore both from the preamble-shaped footprint.
	acct := e.account()
	restore := &txnbuild.RestoreFootprint{}
	draftData := transactionData(nil, []xdr.LedgerKey{codeKey(hash), instanceKey(cid)}, resources{})
	restore.Ext = xdr.TransactionExt{V: 1, SorobanData: &draftData}
	rsim := e.simulate(acct, restore)
	if rsim.Error != "" {
		t.Fatalf("restore simulation: %s", rsim.Error)
	}
	var data xdr.SorobanTransactionData
	if err := xdr.SafeUnmarshalBase64(rsim.TransactionDataXDR, &data); err != nil {
		t.Fatal(err)
	}
	restore.Ext = xdr.TransactionExt{V: 1, SorobanData: &data}
	b64tx, h := e.signTx(e.build(&acct, restore))
	e.send(b64tx)
	if got := e.await(h); got.Status != protocol.TransactionStatusSuccess {
		t.Fatalf("restore = %+v", got)
	}
	if inst, _ := e.srv.InstanceInfo(id); inst.Archived {
		t.Error("instance still archived after restore")
	}
	if c := e.srv.ContractCounts(id); c.Restores != 1 {
		t.Errorf("contract counts = %+v", c)
	}
	if c := e.srv.AccountCounts(e.kp.Address()); c.Restores != 1 {
		t.Errorf("account counts = %+v", c)
	}
	txs := e.srv.Transactions()
	if last := txs[len(txs)-1]; last.Kind != KindRestore {
		t.Errorf("last transaction = %+v", last)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		check func(e *testEnv)
	}{
		{"unavailable twice, then served", func(e *testEnv) {
			e.srv.Inject(Fault{Method: protocol.GetNetworkMethodName, Kind: FaultUnavailable, Times: 2})
			for range 2 {
				if _, err := e.rpc.GetNetwork(e.ctx()); err == nil || !strings.Contains(err.Error(), "503") {
					e.t.Fatalf("GetNetwork error = %v, want HTTP 503", err)
				}
			}
			if _, err := e.rpc.GetNetwork(e.ctx()); err != nil {
				e.t.Fatalf("third GetNetwork: %v", err)
			}
		}},
		{"cleared faults stop", func(e *testEnv) {
			e.srv.Inject(Fault{Kind: FaultUnavailable, Times: 1000})
			if _, err := e.rpc.GetHealth(e.ctx()); err == nil {
				e.t.Fatal("GetHealth was not refused")
			}
			e.srv.ClearFaults()
			if _, err := e.rpc.GetHealth(e.ctx()); err != nil {
				e.t.Fatalf("GetHealth after ClearFaults: %v", err)
			}
		}},
		{"unavailable only for its method", func(e *testEnv) {
			e.srv.Inject(Fault{Method: protocol.SendTransactionMethodName, Kind: FaultUnavailable})
			if _, err := e.rpc.GetHealth(e.ctx()); err != nil {
				e.t.Fatalf("GetHealth: %v", err)
			}
			b64, _ := e.signTx(e.prepare(uploadOp(testWasm)))
			if _, err := e.rpc.SendTransaction(e.ctx(), protocol.SendTransactionRequest{Transaction: b64}); err == nil {
				e.t.Fatal("sendTransaction was not refused")
			}
			if len(e.srv.Transactions()) != 0 {
				e.t.Fatal("an unavailable server applied the transaction")
			}
		}},
		{"try again later, then the same envelope lands", func(e *testEnv) {
			e.srv.Inject(Fault{Kind: FaultTryAgainLater})
			seq, _, _ := e.srv.Account(e.kp.Address())
			b64, hash := e.signTx(e.prepare(uploadOp(testWasm)))
			if got := e.send(b64); got.Status != stellarcore.TXStatusTryAgainLater {
				e.t.Fatalf("send = %s", got.Status)
			}
			if s, _, _ := e.srv.Account(e.kp.Address()); s != seq || len(e.srv.Transactions()) != 0 {
				e.t.Fatal("TRY_AGAIN_LATER applied the transaction")
			}
			if got := e.send(b64); got.Status != stellarcore.TXStatusPending {
				e.t.Fatalf("resend = %s", got.Status)
			}
			if got := e.await(hash); got.Status != protocol.TransactionStatusSuccess {
				e.t.Fatalf("status = %s", got.Status)
			}
		}},
		{"tx failed spends seq and fee", func(e *testEnv) {
			e.srv.Inject(Fault{Kind: FaultTxFailed})
			seq, balance, _ := e.srv.Account(e.kp.Address())
			got := e.run(uploadOp(testWasm))
			if got.Status != protocol.TransactionStatusFailed {
				e.t.Fatalf("status = %s", got.Status)
			}
			if txCode, opCode := invokeResult(e.t, got.ResultXDR); txCode != xdr.TransactionResultCodeTxFailed || opCode != xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped {
				e.t.Fatalf("result = %s / %s", txCode, opCode)
			}
			if s, b, _ := e.srv.Account(e.kp.Address()); s != seq+1 || b >= balance || e.srv.Code(sha256.Sum256(testWasm)) {
				e.t.Fatal("FaultTxFailed must spend seq and fee and store nothing")
			}
			e.upload(testWasm) // consumed: the next one succeeds
		}},
		{"lost response after applying", func(e *testEnv) {
			e.srv.Inject(Fault{Method: protocol.SendTransactionMethodName, Kind: FaultLostResponse})
			seq, _, _ := e.srv.Account(e.kp.Address())
			b64, hash := e.signTx(e.prepare(uploadOp(testWasm)))
			if _, err := e.rpc.SendTransaction(e.ctx(), protocol.SendTransactionRequest{Transaction: b64}); err == nil {
				e.t.Fatal("the client saw the lost response")
			}
			if s, _, _ := e.srv.Account(e.kp.Address()); s != seq+1 || !e.srv.Code(sha256.Sum256(testWasm)) {
				e.t.Fatal("the transaction behind the lost response was not applied")
			}
			if got := e.send(b64); got.Status != stellarcore.TXStatusDuplicate {
				e.t.Fatalf("resend = %s, want DUPLICATE", got.Status)
			}
			if got := e.await(hash); got.Status != protocol.TransactionStatusSuccess {
				e.t.Fatalf("status = %s", got.Status)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(newEnv(t))
		})
	}
}

// TestConcurrentUnserialisedSenders: deployers that share an account without serialising
// collide on the sequence number, and all but one see txBAD_SEQ.
func TestConcurrentUnserialisedSenders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 8
	acct := e.account()
	envs := make([]string, n)
	for i := range envs { // each sender loads the same account and signs its own upload
		envs[i], _ = e.signTx(e.prepare(uploadOp(contract(fmt.Sprintf("f%d", i), 22))))
	}
	statuses := make([]protocol.SendTransactionResponse, n)
	var wg sync.WaitGroup
	for i := range envs {
		wg.Go(func() { statuses[i] = e.send(envs[i]) })
	}
	wg.Wait()
	pending, badSeq := 0, 0
	for _, s := range statuses {
		switch {
		case s.Status == stellarcore.TXStatusPending:
			pending++
		case s.Status == stellarcore.TXStatusError && decodeResult(t, s.ErrorResultXDR).Result.Code == xdr.TransactionResultCodeTxBadSeq:
			badSeq++
		}
	}
	if pending != 1 || badSeq != n-1 {
		t.Fatalf("pending %d, txBAD_SEQ %d; want 1 and %d", pending, badSeq, n-1)
	}
	if seq, _, _ := e.srv.Account(e.kp.Address()); seq != acct.Sequence+1 {
		t.Errorf("sequence = %d", seq)
	}
}

// TestWireFormat checks the raw JSON: only jsonrpc/id/result|error at the top, HTTP 200 for
// RPC errors, int64s as strings.
func TestWireFormat(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var logMu sync.Mutex
	e := newEnv(t, WithLogger(slog.New(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, nil))))
	cases := []struct {
		body   string
		top    string // result or error
		string string // a field that must be a JSON string
	}{
		{`{"jsonrpc":"2.0","id":7,"method":"getTransaction","params":{"hash":"` + strings.Repeat("ab", 32) + `"}}`, "result", "latestLedgerCloseTime"},
		{`{"jsonrpc":"2.0","id":"x","method":"getLatestLedger"}`, "result", ""},
		{`{"jsonrpc":"2.0","id":8,"method":"noSuchMethod"}`, "error", ""},
		{`{"jsonrpc":"2.0","id":9,"method":"sendTransaction","params":{"transaction":"not xdr"}}`, "error", ""},
	}
	for _, tc := range cases {
		resp, err := http.Post(e.url, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: HTTP %d", tc.body, resp.StatusCode)
		}
		var msg map[string]json.RawMessage
		if err := json.Unmarshal(raw, &msg); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if len(msg) != 3 || string(msg["jsonrpc"]) != `"2.0"` || msg["id"] == nil || msg[tc.top] == nil {
			t.Fatalf("response %s: want exactly jsonrpc, id and %s", raw, tc.top)
		}
		if tc.string != "" {
			var result map[string]json.RawMessage
			_ = json.Unmarshal(msg["result"], &result)
			if v := result[tc.string]; len(v) == 0 || v[0] != '"' {
				t.Errorf("%s = %s, want a JSON string", tc.string, v)
			}
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), `"method":"getTransaction","outcome":"NOT_FOUND"`) {
		t.Errorf("log lacks the call's method and outcome:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestNotFoundPolls(t *testing.T) {
	t.Parallel()
	for _, polls := range []int{0, 1, 3} {
		e := newEnv(t, WithNotFoundPolls(polls))
		b64, hash := e.signTx(e.prepare(uploadOp(testWasm)))
		e.send(b64)
		for i := range polls + 1 {
			got, err := e.rpc.GetTransaction(e.ctx(), protocol.GetTransactionRequest{Hash: hash})
			want := protocol.TransactionStatusNotFound
			if i == polls {
				want = protocol.TransactionStatusSuccess
			}
			if err != nil || got.Status != want {
				t.Fatalf("polls=%d, call %d: %s, %v; want %s", polls, i, got.Status, err, want)
			}
		}
	}
}

func b64(t *testing.T, v any) string {
	t.Helper()
	s, err := xdr.MarshalBase64(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCreateAcceptsLegacyAuthEntry: a CreateContractHostFn entry still authorizes a V2 create
// without constructor arguments, as the host allows; with arguments it does not.
func TestCreateAcceptsLegacyAuthEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []xdr.ScVal
		want string
	}{
		{"no constructor args", nil, protocol.TransactionStatusSuccess},
		{"constructor args", []xdr.ScVal{{Type: xdr.ScValTypeScvVoid}}, protocol.TransactionStatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			hash := e.upload(contract("__constructor", 22))
			op := createOp(e.kp.Address(), testSalt(), hash, tc.args...)
			acct := e.account()
			e.assemble(op, e.simulate(acct, op))
			op.Auth = []xdr.SorobanAuthorizationEntry{createAuth(*op.HostFunction.CreateContractV2, false)}
			b64tx, h := e.signTx(e.build(&acct, op))
			e.send(b64tx)
			if got := e.await(h); got.Status != tc.want {
				t.Fatalf("status = %s, want %s", got.Status, tc.want)
			}
		})
	}
}

// With a ledger close time the double has a real network's shape: a transaction is found
// only once its ledger has closed, and its account can send the next one only then.
func TestLedgerCloseTime(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now() // the transactions' time bounds are from the real clock
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := newEnv(t, WithLedgerClose(5*time.Second), WithClock(clock), WithNotFoundPolls(0))

	first, hash := e.signTx(e.prepare(uploadOp(contract("first", DefaultProtocolVersion))))
	if got := e.send(first); got.Status != stellarcore.TXStatusPending {
		t.Fatalf("first send: %s", got.Status)
	}
	get := func(h string) protocol.GetTransactionResponse {
		resp, err := e.rpc.GetTransaction(e.ctx(), protocol.GetTransactionRequest{Hash: h})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if got := get(hash); got.Status != protocol.TransactionStatusNotFound {
		t.Errorf("before the ledger closed: %s, want NOT_FOUND", got.Status)
	}
	// The same account's next transaction waits for the first's ledger.
	second, secondHash := e.signTx(e.prepare(uploadOp(contract("second", DefaultProtocolVersion))))
	if got := e.send(second); got.Status != stellarcore.TXStatusTryAgainLater {
		t.Errorf("second send while the first is in flight: %s, want TRY_AGAIN_LATER", got.Status)
	}
	advance(4 * time.Second)
	if got := get(hash); got.Status != protocol.TransactionStatusNotFound {
		t.Errorf("4 s in: %s, want NOT_FOUND", got.Status)
	}
	advance(time.Second)
	if got := get(hash); got.Status != protocol.TransactionStatusSuccess {
		t.Errorf("once the ledger closed: %s, want SUCCESS", got.Status)
	}
	if got := e.send(second); got.Status != stellarcore.TXStatusPending {
		t.Errorf("second send after the close: %s, want PENDING", got.Status)
	}
	advance(5 * time.Second)
	if got := get(secondHash); got.Status != protocol.TransactionStatusSuccess {
		t.Errorf("second after its ledger closed: %s", got.Status)
	}
}
