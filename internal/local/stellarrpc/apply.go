package stellarrpc

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/strkey"
	"github.com/stellar/go/xdr"
)

// txRecord is an applied transaction and what getTransaction answers for it.
type txRecord struct {
	Tx
	envelope, result, meta string
	diagnostics            []string
	closedAt               int64
	polls                  int       // getTransaction calls answered so far
	visibleAt              time.Time // with WithLedgerClose: when its ledger closes
}

// apply charges the fee, consumes the sequence number and closes a ledger, then runs the
// operation: a host-level failure leaves the fee and sequence spent and the transaction FAILED,
// as on the network. Callers hold s.mu.
func (s *Server) apply(tx *sorobanTx) {
	before := tx.source.entry()
	tx.source.balance -= tx.charge
	tx.source.seq = int64(tx.env.SeqNum())
	ledger := s.closeLedger()
	tx.source.modified = ledger
	after := tx.source.entry()

	p, herr := s.run(tx)
	var changes xdr.LedgerEntryChanges
	var ret *xdr.ScVal
	if herr == nil {
		changes = s.commit(p, tx.invoker.Address(), ledger)
		ret = &p.ret
	}
	rec := &txRecord{Tx: s.describe(tx), closedAt: s.closedAt}
	rec.Ledger, rec.FeeCharged, rec.Status = ledger, tx.charge, protocol.TransactionStatusSuccess
	code := xdr.TransactionResultCodeTxSuccess
	var diag []xdr.DiagnosticEvent
	if herr != nil {
		rec.Status, rec.Error = protocol.TransactionStatusFailed, herr.msg
		code = xdr.TransactionResultCodeTxFailed
		diag = []xdr.DiagnosticEvent{diagnostic(herr)}
	}
	op := opResult(tx.op.Body.Type, herr, p)
	rec.envelope, _ = xdr.MarshalBase64(tx.env)
	rec.result, _ = xdr.MarshalBase64(txResult(tx.charge, code, &op))
	rec.meta, _ = xdr.MarshalBase64(s.meta(before, after, changes, ret, diag, int64(tx.data.ResourceFee)))
	rec.diagnostics = encodeAll(diag)
	s.txs[tx.hash] = rec
	s.order = append(s.order, tx.hash)
}

// run decides the operation's fate: an injected failure, a missing invoker, the host's own
// refusal, or a transaction that does not match its plan.
func (s *Server) run(tx *sorobanTx) (*plan, *hostError) {
	if s.takeFault(sendMethod, FaultTxFailed) != 0 {
		return nil, hostErr(trapped, xdr.ScErrorTypeSceContext, xdr.ScErrorCodeScecInternalError, "injected failure (FaultTxFailed)")
	}
	if _, ok := s.accounts[tx.invoker.Address()]; !ok {
		return nil, hostErr(noAccount, xdr.ScErrorTypeSceContext, xdr.ScErrorCodeScecMissingValue, "operation source account %s does not exist", tx.invoker.Address())
	}
	p, herr := s.plan(tx.op, tx.invoker, &tx.data)
	if herr != nil {
		return nil, herr
	}
	if herr := p.check(tx.data, opAuth(tx.op)); herr != nil {
		return nil, herr
	}
	return p, nil
}

func opAuth(op xdr.Operation) []xdr.SorobanAuthorizationEntry {
	if op.Body.InvokeHostFunctionOp == nil {
		return nil
	}
	return op.Body.InvokeHostFunctionOp.Auth
}

// commit writes what a successful operation changes and returns the changes for the meta.
func (s *Server) commit(p *plan, invoker string, ledger uint32) xdr.LedgerEntryChanges {
	liveUntil := ledger + persistentTTL - 1
	var changes xdr.LedgerEntryChanges
	switch p.kind {
	case KindUpload:
		s.tally(KindUpload, invoker, hashKey(p.wasmHash))
		if _, ok := s.code[p.wasmHash]; ok {
			return nil // re-uploading live code changes nothing but the fee
		}
		c := &codeEntry{wasm: append([]byte(nil), p.wasm...), liveUntil: liveUntil, modified: ledger}
		s.code[p.wasmHash] = c
		changes = created(c.entry(p.wasmHash), codeKey(p.wasmHash), liveUntil, ledger)
	case KindCreate:
		s.tally(KindCreate, invoker, contractKey(p.contract))
		i := &instanceEntry{wasmHash: p.wasmHash, args: p.args, liveUntil: liveUntil, modified: ledger}
		s.instances[p.contract] = i
		changes = created(i.entry(p.contract), instanceKey(p.contract), liveUntil, ledger)
	case KindRestore:
		s.tally(KindRestore, invoker)
		for _, key := range p.restore {
			changes = append(changes, s.restore(key, liveUntil, ledger)...)
		}
	}
	return changes
}

func created(e xdr.LedgerEntry, key xdr.LedgerKey, liveUntil, ledger uint32) xdr.LedgerEntryChanges {
	ttl := ttlEntry(key, liveUntil, ledger)
	return xdr.LedgerEntryChanges{
		{Type: xdr.LedgerEntryChangeTypeLedgerEntryCreated, Created: &e},
		{Type: xdr.LedgerEntryChangeTypeLedgerEntryCreated, Created: &ttl},
	}
}

// restore makes an archived entry live again; on the network that is a TTL update.
func (s *Server) restore(key xdr.LedgerKey, liveUntil, ledger uint32) xdr.LedgerEntryChanges {
	var old uint32
	if key.Type == xdr.LedgerEntryTypeContractCode {
		c := s.code[key.ContractCode.Hash]
		old, c.liveUntil = c.liveUntil, liveUntil
		s.tally(KindRestore, hashKey(key.ContractCode.Hash))
	} else {
		id, _ := instanceID(key)
		i := s.instances[id]
		old, i.liveUntil = i.liveUntil, liveUntil
		s.tally(KindRestore, contractKey(id))
	}
	was, now := ttlEntry(key, old, ledger), ttlEntry(key, liveUntil, ledger)
	return xdr.LedgerEntryChanges{
		{Type: xdr.LedgerEntryChangeTypeLedgerEntryState, State: &was},
		{Type: xdr.LedgerEntryChangeTypeLedgerEntryUpdated, Updated: &now},
	}
}

// describe summarises a transaction from its operation alone, so that a failed create still
// names the contract it was after.
func (s *Server) describe(tx *sorobanTx) Tx {
	d := Tx{
		Hash:   tx.hash,
		Kind:   kindOf(tx.op),
		Source: tx.source.id.Address(),
		Seq:    int64(tx.env.SeqNum()),
	}
	if tx.op.Body.Type != xdr.OperationTypeInvokeHostFunction {
		return d
	}
	fn := tx.op.Body.InvokeHostFunctionOp.HostFunction
	var args *xdr.CreateContractArgs
	switch fn.Type {
	case xdr.HostFunctionTypeHostFunctionTypeUploadContractWasm:
		d.WasmHash = sha256.Sum256(*fn.Wasm)
	case xdr.HostFunctionTypeHostFunctionTypeCreateContract:
		args = fn.CreateContract
	case xdr.HostFunctionTypeHostFunctionTypeCreateContractV2:
		args = &xdr.CreateContractArgs{ContractIdPreimage: fn.CreateContractV2.ContractIdPreimage, Executable: fn.CreateContractV2.Executable}
	}
	if args != nil {
		if h := args.Executable.WasmHash; h != nil {
			d.WasmHash = *h
		}
		if id, err := contractID(s.networkID, args.ContractIdPreimage); err == nil {
			d.ContractID = strkey.MustEncode(strkey.VersionByteContract, id[:])
		}
	}
	return d
}

// opResult is the operation's result; a successful InvokeHostFunction carries the hash of its
// return value and events, as the network's does.
func opResult(t xdr.OperationType, herr *hostError, p *plan) xdr.OperationResult {
	if herr != nil && herr.fail == noAccount {
		return xdr.OperationResult{Code: xdr.OperationResultCodeOpNoAccount}
	}
	tr := &xdr.OperationResultTr{Type: t}
	if t == xdr.OperationTypeRestoreFootprint {
		tr.RestoreFootprintResult = &xdr.RestoreFootprintResult{Code: restoreCode(herr)}
		return xdr.OperationResult{Code: xdr.OperationResultCodeOpInner, Tr: tr}
	}
	r := &xdr.InvokeHostFunctionResult{Code: invokeCode(herr)}
	if herr == nil {
		b, _ := xdr.InvokeHostFunctionSuccessPreImage{ReturnValue: p.ret}.MarshalBinary()
		h := xdr.Hash(sha256.Sum256(b))
		r.Success = &h
	}
	tr.InvokeHostFunctionResult = r
	return xdr.OperationResult{Code: xdr.OperationResultCodeOpInner, Tr: tr}
}

func invokeCode(herr *hostError) xdr.InvokeHostFunctionResultCode {
	if herr == nil {
		return xdr.InvokeHostFunctionResultCodeInvokeHostFunctionSuccess
	}
	switch herr.fail {
	case resourceLimit:
		return xdr.InvokeHostFunctionResultCodeInvokeHostFunctionResourceLimitExceeded
	case entryArchived:
		return xdr.InvokeHostFunctionResultCodeInvokeHostFunctionEntryArchived
	case malformed:
		return xdr.InvokeHostFunctionResultCodeInvokeHostFunctionMalformed
	}
	return xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped
}

func restoreCode(herr *hostError) xdr.RestoreFootprintResultCode {
	if herr == nil {
		return xdr.RestoreFootprintResultCodeRestoreFootprintSuccess
	}
	if herr.fail == resourceLimit {
		return xdr.RestoreFootprintResultCodeRestoreFootprintResourceLimitExceeded
	}
	return xdr.RestoreFootprintResultCodeRestoreFootprintMalformed
}

// meta is the TransactionMeta the network would emit: V3 up to protocol 22, V4 from 23. The
// source account's fee and sequence change come first, then the operation's changes (none if
// it failed), and the Soroban meta with the return value.
func (s *Server) meta(before, after xdr.LedgerEntry, changes xdr.LedgerEntryChanges, ret *xdr.ScVal, diag []xdr.DiagnosticEvent, resourceFee int64) xdr.TransactionMeta {
	txBefore := xdr.LedgerEntryChanges{
		{Type: xdr.LedgerEntryChangeTypeLedgerEntryState, State: &before},
		{Type: xdr.LedgerEntryChangeTypeLedgerEntryUpdated, Updated: &after},
	}
	ext := xdr.SorobanTransactionMetaExt{V: 1, V1: &xdr.SorobanTransactionMetaExtV1{
		TotalNonRefundableResourceFeeCharged: xdr.Int64(resourceFee),
	}}
	if s.protocol >= 23 {
		m := &xdr.TransactionMetaV4{
			TxChangesBefore:  txBefore,
			Operations:       []xdr.OperationMetaV2{},
			SorobanMeta:      &xdr.SorobanTransactionMetaV2{Ext: ext, ReturnValue: ret},
			DiagnosticEvents: diag,
		}
		if ret != nil {
			m.Operations = append(m.Operations, xdr.OperationMetaV2{Changes: changes})
		}
		return xdr.TransactionMeta{V: 4, V4: m}
	}
	rv := xdr.ScVal{Type: xdr.ScValTypeScvVoid}
	m := &xdr.TransactionMetaV3{
		TxChangesBefore: txBefore,
		Operations:      []xdr.OperationMeta{},
		SorobanMeta:     &xdr.SorobanTransactionMeta{Ext: ext, ReturnValue: rv, DiagnosticEvents: diag},
	}
	if ret != nil {
		m.SorobanMeta.ReturnValue = *ret
		m.Operations = append(m.Operations, xdr.OperationMeta{Changes: changes})
	}
	return xdr.TransactionMeta{V: 3, V3: m}
}

// diagnostic is the host's account of a failure: topics ("error", the ScError), data the
// message, which is what clients show users.
func diagnostic(herr *hostError) xdr.DiagnosticEvent {
	code := herr.errCode
	sym := xdr.ScSymbol("error")
	msg := xdr.ScString(herr.msg)
	return xdr.DiagnosticEvent{Event: xdr.ContractEvent{
		Type: xdr.ContractEventTypeDiagnostic,
		Body: xdr.ContractEventBody{V: 0, V0: &xdr.ContractEventV0{
			Topics: []xdr.ScVal{
				{Type: xdr.ScValTypeScvSymbol, Sym: &sym},
				{Type: xdr.ScValTypeScvError, Error: &xdr.ScError{Type: herr.errType, Code: &code}},
			},
			Data: xdr.ScVal{Type: xdr.ScValTypeScvString, Str: &msg},
		}},
	}}
}

func encodeAll[T any](vs []T) []string {
	var out []string
	for _, v := range vs {
		b, err := xdr.MarshalBase64(v)
		if err == nil {
			out = append(out, b)
		}
	}
	return out
}

func hashKey(h xdr.Hash) string { return hex.EncodeToString(h[:]) }

func contractKey(id xdr.ContractId) string {
	return strkey.MustEncode(strkey.VersionByteContract, id[:])
}
