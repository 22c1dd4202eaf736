package stellarrpc

import (
	"context"
	"encoding/hex"
	"strings"

	"github.com/stellar/go/network"
	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/protocols/stellarcore"
	"github.com/stellar/go/xdr"
)

// simulateTransaction reports what the operation needs and returns without changing anything.
// Like stellar-rpc, it answers every problem with the transaction in the result's error field,
// not as a JSON-RPC error: only a bad request format is one.
func (s *Server) simulateTransaction(_ context.Context, req protocol.SimulateTransactionRequest) (protocol.SimulateTransactionResponse, error) {
	if err := checkFormat(req.Format); err != nil {
		return protocol.SimulateTransactionResponse{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := protocol.SimulateTransactionResponse{LatestLedger: s.latest}
	op, invoker, data, msg := simulationInput(req.Transaction)
	if msg != "" {
		resp.Error = msg
		return resp, nil
	}
	p, herr := s.plan(op, invoker, data)
	if herr != nil {
		resp.Error = herr.msg
		resp.EventsXDR = encodeAll([]xdr.DiagnosticEvent{diagnostic(herr)})
		return resp, nil
	}
	txData := transactionData(p.readOnly, p.readWrite, p.needs)
	resp.TransactionDataXDR, _ = xdr.MarshalBase64(txData)
	resp.MinResourceFee = int64(txData.ResourceFee)
	if p.kind != KindRestore {
		auth := encodeAll(p.auth)
		if auth == nil {
			auth = []string{}
		}
		ret, _ := xdr.MarshalBase64(p.ret)
		resp.Results = []protocol.SimulateHostFunctionResult{{AuthXDR: &auth, ReturnValueXDR: &ret}}
	}
	if len(p.archived) > 0 {
		resp.RestorePreamble = s.restorePreamble(p.archived)
	}
	return resp, nil
}

// simulationInput picks the one Soroban operation out of a draft transaction; msg says why
// there is none.
func simulationInput(b64 string) (xdr.Operation, xdr.AccountId, *xdr.SorobanTransactionData, string) {
	env, err := decodeEnvelope(b64)
	if err != nil {
		return xdr.Operation{}, xdr.AccountId{}, nil, "could not unmarshal transaction: " + err.Error()
	}
	if env.Type != xdr.EnvelopeTypeEnvelopeTypeTx {
		return xdr.Operation{}, xdr.AccountId{}, nil, "only V1 transaction envelopes can be simulated"
	}
	ops := env.Operations()
	if len(ops) != 1 {
		return xdr.Operation{}, xdr.AccountId{}, nil, "transaction must contain exactly one operation"
	}
	switch ops[0].Body.Type {
	case xdr.OperationTypeInvokeHostFunction, xdr.OperationTypeRestoreFootprint:
	default:
		return xdr.Operation{}, xdr.AccountId{}, nil, "transaction contains an operation the Stellar RPC double cannot simulate: " + ops[0].Body.Type.String()
	}
	invoker := env.SourceAccount().ToAccountId()
	if ops[0].SourceAccount != nil {
		invoker = ops[0].SourceAccount.ToAccountId()
	}
	return ops[0], invoker, env.V1.Tx.Ext.SorobanData, ""
}

func transactionData(readOnly, readWrite []xdr.LedgerKey, r resources) xdr.SorobanTransactionData {
	return xdr.SorobanTransactionData{
		Resources: xdr.SorobanResources{
			Footprint:     xdr.LedgerFootprint{ReadOnly: nonNil(readOnly), ReadWrite: nonNil(readWrite)},
			Instructions:  xdr.Uint32(r.instructions),
			DiskReadBytes: xdr.Uint32(r.readBytes),
			WriteBytes:    xdr.Uint32(r.writeBytes),
		},
		ResourceFee: xdr.Int64(resourceFee(r)),
	}
}

func nonNil(keys []xdr.LedgerKey) []xdr.LedgerKey {
	if keys == nil {
		return []xdr.LedgerKey{}
	}
	return keys
}

// restorePreamble is what a RestoreFootprint of the archived keys needs.
func (s *Server) restorePreamble(keys []xdr.LedgerKey) *protocol.RestorePreamble {
	var r resources
	for _, k := range keys {
		if st, ok := s.lookup(k); ok {
			r.readBytes += entrySize(st.entry)
			r.writeBytes += entrySize(st.entry)
		}
	}
	data := transactionData(nil, keys, r)
	b64, _ := xdr.MarshalBase64(data)
	return &protocol.RestorePreamble{TransactionDataXDR: b64, MinResourceFee: int64(data.ResourceFee)}
}

// sendTransaction admits and, if valid, applies the transaction at once; the client still
// sees PENDING and has to poll getTransaction, as on the network.
func (s *Server) sendTransaction(_ context.Context, req protocol.SendTransactionRequest) (protocol.SendTransactionResponse, error) {
	if err := checkFormat(req.Format); err != nil {
		return protocol.SendTransactionResponse{}, err
	}
	env, err := decodeEnvelope(req.Transaction)
	if err != nil {
		return protocol.SendTransactionResponse{}, invalidParams("invalid_xdr: %v", err)
	}
	hash, err := network.HashTransactionInEnvelope(env, s.passphrase)
	if err != nil {
		return protocol.SendTransactionResponse{}, invalidParams("cannot hash transaction: %v", err)
	}
	hashHex := hex.EncodeToString(hash[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := protocol.SendTransactionResponse{Hash: hashHex, LatestLedger: s.latest, LatestLedgerCloseTime: s.closedAt}
	switch {
	case s.takeFault(sendMethod, FaultTryAgainLater) != 0:
		resp.Status = stellarcore.TXStatusTryAgainLater
	case s.txs[hashHex] != nil:
		resp.Status = stellarcore.TXStatusDuplicate
	case s.busy(env):
		// One transaction per source account in flight: the queue refuses a second.
		resp.Status = stellarcore.TXStatusTryAgainLater
	default:
		tx, rejected := s.validate(env, hash, hashHex)
		if rejected != nil {
			resp.Status = stellarcore.TXStatusError
			resp.ErrorResultXDR, _ = xdr.MarshalBase64(rejected)
			return resp, nil
		}
		s.apply(tx)
		if s.closeEvery > 0 {
			at := s.nextClose()
			s.txs[hashHex].visibleAt = at
			s.inFlight[sourceOf(env)] = at
			pending := 0
			for _, until := range s.inFlight {
				if s.now().Before(until) {
					pending++
				}
			}
			s.mostInFlight = max(s.mostInFlight, pending)
		}
		resp.Status = stellarcore.TXStatusPending
	}
	return resp, nil
}

// busy reports whether env's source account has a transaction whose ledger has not closed
// (only with WithLedgerClose). Callers hold s.mu.
func (s *Server) busy(env xdr.TransactionEnvelope) bool {
	if s.closeEvery == 0 {
		return false
	}
	until, ok := s.inFlight[sourceOf(env)]
	return ok && s.now().Before(until)
}

// sourceOf is the account whose sequence number a transaction uses (xdr's SourceAccount
// gives a fee bump's inner one).
func sourceOf(env xdr.TransactionEnvelope) string {
	id := env.SourceAccount().ToAccountId()
	return id.Address()
}

func (s *Server) getTransaction(_ context.Context, req protocol.GetTransactionRequest) (protocol.GetTransactionResponse, error) {
	if err := checkFormat(req.Format); err != nil {
		return protocol.GetTransactionResponse{}, err
	}
	if b, err := hex.DecodeString(req.Hash); err != nil || len(b) != 32 {
		return protocol.GetTransactionResponse{}, invalidParams("expected a 64-character hex transaction hash, got %q", req.Hash)
	}
	hash := strings.ToLower(req.Hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := protocol.GetTransactionResponse{
		LatestLedger:          s.latest,
		LatestLedgerCloseTime: s.closedAt,
		OldestLedger:          firstLedger,
		OldestLedgerCloseTime: s.startedAt,
	}
	resp.TransactionHash = hash
	rec := s.txs[hash]
	if rec != nil && s.closeEvery > 0 && s.now().Before(rec.visibleAt) { // its ledger has not closed yet
		resp.Status = protocol.TransactionStatusNotFound
		return resp, nil
	}
	if rec == nil || rec.polls < s.notFound {
		if rec != nil {
			rec.polls++
		}
		resp.Status = protocol.TransactionStatusNotFound
		return resp, nil
	}
	resp.Status = rec.Status
	resp.ApplicationOrder = 1
	resp.EnvelopeXDR = rec.envelope
	resp.ResultXDR = rec.result
	resp.ResultMetaXDR = rec.meta
	resp.DiagnosticEventsXDR = rec.diagnostics
	resp.Ledger = rec.Ledger
	resp.LedgerCloseTime = rec.closedAt
	return resp, nil
}
