package stellarrpc

import (
	"github.com/stellar/go/keypair"
	"github.com/stellar/go/xdr"
)

// baseFee is the network's minimum inclusion fee per operation (txnbuild.MinBaseFee). With no
// surge pricing here, it is also what the inclusion costs.
const baseFee = 100

// sorobanTx is an envelope that passed the checks a validator makes before applying it.
type sorobanTx struct {
	env     xdr.TransactionEnvelope
	hash    string
	source  *account
	invoker xdr.AccountId // the operation's source account: the tx source unless the op names one
	op      xdr.Operation
	data    xdr.SorobanTransactionData
	charge  int64 // the inclusion fee plus the declared resource fee; no refunds here
}

func decodeEnvelope(b64 string) (xdr.TransactionEnvelope, error) {
	var env xdr.TransactionEnvelope
	err := xdr.SafeUnmarshalBase64(b64, &env)
	return env, err
}

// validate makes stellar-core's admission checks, in its order, and reports the first failure
// as the TransactionResult sendTransaction returns with ERROR.
func (s *Server) validate(env xdr.TransactionEnvelope, hash [32]byte, hashHex string) (*sorobanTx, *xdr.TransactionResult) {
	if env.IsFeeBump() {
		return nil, txResult(0, xdr.TransactionResultCodeTxNotSupported, nil)
	}
	if env.Type != xdr.EnvelopeTypeEnvelopeTypeTx {
		return nil, txResult(0, xdr.TransactionResultCodeTxMalformed, nil) // a V0 envelope cannot carry Soroban data
	}
	tx := env.V1.Tx
	if len(tx.Operations) == 0 {
		return nil, txResult(0, xdr.TransactionResultCodeTxMissingOperation, nil)
	}
	if code := s.checkShape(tx); code != xdr.TransactionResultCodeTxSuccess {
		return nil, txResult(0, code, nil)
	}
	data := *tx.Ext.SorobanData
	charge := baseFee + int64(data.ResourceFee)
	reject := func(code xdr.TransactionResultCode) (*sorobanTx, *xdr.TransactionResult) {
		return nil, txResult(charge, code, nil)
	}
	if code := s.checkBounds(env); code != xdr.TransactionResultCodeTxSuccess {
		return reject(code)
	}
	// The bid must cover the minimum inclusion fee on top of the resource fee, and the resource
	// fee must pay for the resources declared: a client that drops simulation's fee is caught.
	if data.ResourceFee < 0 || int64(tx.Fee) < charge || int64(data.ResourceFee) < resourceFee(declared(data)) {
		return reject(xdr.TransactionResultCodeTxInsufficientFee)
	}
	srcID := tx.SourceAccount.ToAccountId()
	src, ok := s.accounts[srcID.Address()]
	if !ok {
		return reject(xdr.TransactionResultCodeTxNoAccount)
	}
	if int64(tx.SeqNum) != src.seq+1 {
		return reject(xdr.TransactionResultCodeTxBadSeq)
	}
	invoker := srcID
	if op := tx.Operations[0]; op.SourceAccount != nil {
		invoker = op.SourceAccount.ToAccountId()
	}
	if code := checkSignatures(hash, env.V1.Signatures, srcID, invoker); code != xdr.TransactionResultCodeTxSuccess {
		return reject(code)
	}
	if src.balance < int64(tx.Fee) {
		return reject(xdr.TransactionResultCodeTxInsufficientBalance)
	}
	return &sorobanTx{env: env, hash: hashHex, source: src, invoker: invoker, op: tx.Operations[0], data: data, charge: charge}, nil
}

// checkShape enforces what makes a Soroban transaction well-formed: one InvokeHostFunction or
// RestoreFootprint operation, Soroban data present, no memo, and no host function the
// network's protocol lacks.
func (s *Server) checkShape(tx xdr.Transaction) xdr.TransactionResultCode {
	if len(tx.Operations) != 1 || tx.Ext.V != 1 || tx.Ext.SorobanData == nil || tx.Memo.Type != xdr.MemoTypeMemoNone {
		return xdr.TransactionResultCodeTxMalformed
	}
	op := tx.Operations[0].Body
	switch op.Type {
	case xdr.OperationTypeRestoreFootprint:
	case xdr.OperationTypeInvokeHostFunction:
		if op.InvokeHostFunctionOp.HostFunction.Type == xdr.HostFunctionTypeHostFunctionTypeCreateContractV2 && s.protocol < 22 {
			return xdr.TransactionResultCodeTxMalformed
		}
	default:
		return xdr.TransactionResultCodeTxMalformed
	}
	return xdr.TransactionResultCodeTxSuccess
}

// checkBounds compares time and ledger bounds with the ledger the transaction would close in.
func (s *Server) checkBounds(env xdr.TransactionEnvelope) xdr.TransactionResultCode {
	now := max(s.now().Unix(), s.closedAt)
	if tb := env.TimeBounds(); tb != nil {
		if int64(tb.MinTime) > now {
			return xdr.TransactionResultCodeTxTooEarly
		}
		if tb.MaxTime != 0 && int64(tb.MaxTime) < now {
			return xdr.TransactionResultCodeTxTooLate
		}
	}
	next := s.latest + 1
	if lb := env.LedgerBounds(); lb != nil {
		if uint32(lb.MinLedger) > next {
			return xdr.TransactionResultCodeTxTooEarly
		}
		if lb.MaxLedger != 0 && uint32(lb.MaxLedger) <= next {
			return xdr.TransactionResultCodeTxTooLate
		}
	}
	return xdr.TransactionResultCodeTxSuccess
}

// checkSignatures wants a valid signature over the network-specific hash from each required
// account's master key (the only signer the double's accounts have), and no signature that
// serves none of them. A transaction signed for another network hashes differently, so its
// signature fails here.
func checkSignatures(hash [32]byte, sigs []xdr.DecoratedSignature, required ...xdr.AccountId) xdr.TransactionResultCode {
	used := make([]bool, len(sigs))
	for _, acct := range required {
		kp, err := keypair.ParseAddress(acct.Address())
		if err != nil {
			return xdr.TransactionResultCodeTxBadAuth
		}
		signed := false
		for i, sig := range sigs {
			if sig.Hint == xdr.SignatureHint(kp.Hint()) && kp.Verify(hash[:], sig.Signature) == nil {
				used[i], signed = true, true
			}
		}
		if !signed {
			return xdr.TransactionResultCodeTxBadAuth
		}
	}
	for _, u := range used {
		if !u {
			return xdr.TransactionResultCodeTxBadAuthExtra
		}
	}
	return xdr.TransactionResultCodeTxSuccess
}

// txResult is a TransactionResult; op is nil for transactions rejected before applying.
func txResult(feeCharged int64, code xdr.TransactionResultCode, op *xdr.OperationResult) *xdr.TransactionResult {
	r := &xdr.TransactionResult{FeeCharged: xdr.Int64(feeCharged), Result: xdr.TransactionResultResult{Code: code}}
	if op != nil {
		r.Result.Results = &[]xdr.OperationResult{*op}
	}
	return r
}
