package soroban

import (
	"context"
	"errors"
	"strings"
	"time"

	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/protocols/stellarcore"
	"github.com/stellar/go/txnbuild"
	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// txTimeout is the transaction's own validity window: a transaction that has not made it
// into a ledger by then can never apply, so a later retry cannot race it.
const txTimeout = 300

// submit runs one Soroban operation from the deployer account: simulate, apply the
// simulated resources, fee and authorisation, sign, send and wait for the result. It
// returns the host function's return value as the simulation computed it (nil for a
// restore). restoreKeys is the footprint of a RestoreFootprint operation.
func (d *Deployer) submit(ctx context.Context, j *job, op string, operation txnbuild.Operation, restoreKeys ...xdr.LedgerKey) (*xdr.ScVal, error) {
	acct, err := d.rpc.LoadAccount(ctx, j.signer.Address())
	if err != nil {
		if strings.Contains(err.Error(), "failed to find ledger entry") {
			return nil, &fault.ConfigError{Op: op, Msg: "the deployer account does not exist on this network (fund it)"}
		}
		return nil, rpcError(op, err)
	}
	account, ok := acct.(*txnbuild.SimpleAccount)
	if !ok {
		return nil, &fault.InvariantError{Op: op, Msg: "unexpected account type from RPC"}
	}
	if restore, ok := operation.(*txnbuild.RestoreFootprint); ok {
		restore.Ext = xdr.TransactionExt{V: 1, SorobanData: &xdr.SorobanTransactionData{
			Resources: xdr.SorobanResources{Footprint: xdr.LedgerFootprint{ReadOnly: []xdr.LedgerKey{}, ReadWrite: restoreKeys}},
		}}
	}

	// The draft is built on a copy: NewTransaction increments the account's sequence, and
	// doing that twice would make the real transaction skip a number (txBAD_SEQ).
	draftAccount := *account
	draft, err := build(&draftAccount, operation)
	if err != nil {
		return nil, &fault.InvariantError{Op: op, Msg: "cannot build the transaction", Err: err}
	}
	draftB64, err := draft.Base64()
	if err != nil {
		return nil, &fault.InvariantError{Op: op, Msg: "cannot encode the transaction", Err: err}
	}
	sim, err := d.rpc.SimulateTransaction(ctx, protocol.SimulateTransactionRequest{Transaction: draftB64})
	if err != nil {
		return nil, rpcError(op, err)
	}
	if sim.Error != "" {
		return nil, simulationError(op, sim.Error)
	}
	if sim.RestorePreamble != nil {
		// Something the operation touches is archived; Deploy restores the entries it
		// checks, so this is an entry it did not expect. A retry after the restore by an
		// operator (or the next Deploy) succeeds.
		return nil, &fault.TransientError{Op: op, Msg: "a ledger entry the transaction needs is archived"}
	}
	ret, err := applySimulation(operation, sim)
	if err != nil {
		return nil, &fault.InvariantError{Op: op, Msg: "malformed simulation result", Err: err}
	}

	tx, err := build(account, operation)
	if err != nil {
		return nil, &fault.InvariantError{Op: op, Msg: "cannot build the transaction", Err: err}
	}
	if tx, err = tx.Sign(d.passphrase, j.signer); err != nil {
		return nil, &fault.InvariantError{Op: op, Msg: "cannot sign the transaction", Err: err}
	}
	hash, err := tx.HashHex(d.passphrase)
	if err != nil {
		return nil, &fault.InvariantError{Op: op, Msg: "cannot hash the transaction", Err: err}
	}
	envelope, err := tx.Base64()
	if err != nil {
		return nil, &fault.InvariantError{Op: op, Msg: "cannot encode the transaction", Err: err}
	}
	// Journalled before sending, so an attempt that dies after sending leaves the next one
	// the transaction to resume; and in the result, for the step's log.
	j.res.Transactions = append(j.res.Transactions, hash)
	if d.journal != nil {
		validUntil := time.Unix(tx.Timebounds().MaxTime, 0)
		if err := d.journal.Sending(ctx, j.tenantID, j.signer.Address(), hash, envelope, validUntil); err != nil {
			return nil, err
		}
	}
	if err := d.settle(ctx, hash, d.sendAndConfirm(ctx, op, hash, envelope)); err != nil {
		return nil, err
	}
	return ret, nil
}

// settle records the outcome sendAndConfirm reached for a journalled transaction, and
// returns that outcome's error. A transient one (no verdict yet) stays unsettled, for the
// next attempt to resume; a sequence number another transaction took can never apply.
func (d *Deployer) settle(ctx context.Context, hash string, sent error) error {
	if d.journal == nil {
		return sent
	}
	outcome := OutcomeSuccess
	switch {
	case errors.Is(sent, errBadSeq):
		outcome = OutcomeExpired
	case fault.IsTransient(sent):
		return sent
	case sent != nil:
		outcome = OutcomeFailed
	}
	if err := d.journal.Settled(context.WithoutCancel(ctx), hash, outcome); err != nil && sent == nil {
		return err
	}
	return sent
}

// resume settles the tenant's journalled transactions that an earlier attempt sent and
// never saw settle: one that applied or failed is recorded so; one still valid is sent
// again, the very same envelope, and awaited; one whose time bounds have passed is
// expired. Only a transaction still without a verdict stops the deployment (a
// TransientError: the next attempt resumes it again).
func (d *Deployer) resume(ctx context.Context, j *job) error {
	const op = "resume sent transaction"
	if d.journal == nil {
		return nil
	}
	pending, err := d.journal.Unsettled(ctx, j.tenantID)
	if err != nil {
		return err
	}
	for _, p := range pending {
		r, err := d.rpc.GetTransaction(ctx, protocol.GetTransactionRequest{Hash: p.Hash})
		switch {
		case err != nil:
			return rpcError(op, err)
		case r.Status == protocol.TransactionStatusSuccess:
			err = d.journal.Settled(ctx, p.Hash, OutcomeSuccess)
		case r.Status == protocol.TransactionStatusFailed:
			err = d.journal.Settled(ctx, p.Hash, OutcomeFailed)
		case !time.Now().Before(p.ValidUntil):
			err = d.journal.Settled(ctx, p.Hash, OutcomeExpired)
		default:
			// Settled unless still without a verdict; a failed one changed nothing, and the
			// deployment goes on.
			if err := d.settle(ctx, p.Hash, d.sendAndConfirm(ctx, op, p.Hash, p.Envelope)); fault.IsTransient(err) && !errors.Is(err, errBadSeq) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func build(account *txnbuild.SimpleAccount, operation txnbuild.Operation) (*txnbuild.Transaction, error) {
	// NewTransaction sets the fee to BaseFee per operation plus the Soroban resource fee
	// from the operation's transaction data.
	return txnbuild.NewTransaction(txnbuild.TransactionParams{
		SourceAccount:        account,
		IncrementSequenceNum: true,
		Operations:           []txnbuild.Operation{operation},
		BaseFee:              txnbuild.MinBaseFee,
		Preconditions:        txnbuild.Preconditions{TimeBounds: txnbuild.NewTimeout(txTimeout)},
	})
}

// applySimulation puts the simulated resources (footprint, fee) and the authorisation
// entries on the operation, and returns the host function's return value.
//
// The return value comes from the simulation, not from the transaction's meta once applied:
// decoding an xdr.TransactionMeta links the decoders of every kind of ledger entry change and
// event, about 0.13 MiB of the Lambda binary. The values agree for what submit runs: the
// host functions are deterministic, and a created contract's id follows from the network, the
// deployer and the salt alone.
func applySimulation(operation txnbuild.Operation, sim protocol.SimulateTransactionResponse) (*xdr.ScVal, error) {
	var data xdr.SorobanTransactionData
	if err := xdr.SafeUnmarshalBase64(sim.TransactionDataXDR, &data); err != nil {
		return nil, err
	}
	ext := xdr.TransactionExt{V: 1, SorobanData: &data}
	switch o := operation.(type) {
	case *txnbuild.InvokeHostFunction:
		o.Ext = ext
		o.Auth = nil
		if len(sim.Results) > 0 && sim.Results[0].AuthXDR != nil {
			for _, a := range *sim.Results[0].AuthXDR {
				var entry xdr.SorobanAuthorizationEntry
				if err := xdr.SafeUnmarshalBase64(a, &entry); err != nil {
					return nil, err
				}
				o.Auth = append(o.Auth, entry)
			}
		}
	case *txnbuild.RestoreFootprint:
		o.Ext = ext
	}
	if len(sim.Results) == 0 || sim.Results[0].ReturnValueXDR == nil {
		return nil, nil
	}
	var ret xdr.ScVal
	if err := xdr.SafeUnmarshalBase64(*sim.Results[0].ReturnValueXDR, &ret); err != nil {
		return nil, err
	}
	return &ret, nil
}

// sendAndConfirm sends the signed envelope and waits, up to the confirm timeout, for the
// network's verdict.
func (d *Deployer) sendAndConfirm(ctx context.Context, op, hash, envelope string) error {
	ctx, cancel := context.WithTimeout(ctx, d.confirmTimeout)
	defer cancel()
	backoff := d.pollInterval
	for {
		resp, err := d.rpc.SendTransaction(ctx, protocol.SendTransactionRequest{Transaction: envelope})
		if err != nil {
			// The response may have been lost after the network took the transaction:
			// look for it by its hash before calling the attempt failed.
			return d.await(ctx, op, hash, "sent, but the answer was lost and the transaction did not appear")
		}
		switch resp.Status {
		case stellarcore.TXStatusPending, stellarcore.TXStatusDuplicate:
			return d.await(ctx, op, hash, "transaction not confirmed within "+d.confirmTimeout.String())
		case stellarcore.TXStatusTryAgainLater:
			// The same envelope is resent: it has the same hash, so it can apply at most once.
			select {
			case <-ctx.Done():
				return &fault.TransientError{Op: op, Msg: "the network kept asking to try again later"}
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
		case stellarcore.TXStatusError:
			return txError(op, "rejected", resp.ErrorResultXDR)
		default:
			return &fault.InvariantError{Op: op, Msg: "unknown send status " + resp.Status}
		}
	}
}

// await polls for the transaction until it succeeds, fails, or ctx ends.
func (d *Deployer) await(ctx context.Context, op, hash, timeoutMsg string) error {
	for {
		r, err := d.rpc.GetTransaction(ctx, protocol.GetTransactionRequest{Hash: hash})
		if err == nil {
			switch r.Status {
			case protocol.TransactionStatusSuccess:
				return nil
			case protocol.TransactionStatusFailed:
				return txError(op, "failed", r.ResultXDR)
			}
		}
		// NOT_FOUND, or an RPC hiccup: the ledger may not have closed yet.
		select {
		case <-ctx.Done():
			return &fault.TransientError{Op: op, Msg: timeoutMsg}
		case <-time.After(d.pollInterval):
		}
	}
}

// errBadSeq marks a transaction refused for its sequence number: another transaction took
// it, so this one can never apply (a fresh one, with the next number, may).
var errBadSeq = errors.New("sequence number taken")

// txError classifies a rejected or failed transaction by its result code. Sequence and fee
// races are transient; an account that cannot pay or sign, or a host function that fails,
// will not get better by retrying.
func txError(op, verb, resultXDR string) error {
	code, hostFn, err := readResult(resultXDR)
	if err != nil {
		return &fault.InvariantError{Op: op, Msg: "transaction " + verb + " with an unreadable result", Err: err}
	}
	msg := "transaction " + verb + ": " + code.String()
	if hostFn != nil {
		msg += " (" + hostFn.String() + ")"
	}
	switch code {
	case xdr.TransactionResultCodeTxBadSeq:
		return &fault.TransientError{Op: op, Msg: msg, Err: errBadSeq}
	case xdr.TransactionResultCodeTxInsufficientFee,
		xdr.TransactionResultCodeTxTooLate, xdr.TransactionResultCodeTxTooEarly, xdr.TransactionResultCodeTxInternalError:
		return &fault.TransientError{Op: op, Msg: msg}
	case xdr.TransactionResultCodeTxInsufficientBalance:
		return &fault.ConfigError{Op: op, Msg: msg + ": the deployer account cannot pay the fee"}
	case xdr.TransactionResultCodeTxBadAuth, xdr.TransactionResultCodeTxBadAuthExtra:
		return &fault.ConfigError{Op: op, Msg: msg + ": signature rejected (wrong network or deployer key)"}
	case xdr.TransactionResultCodeTxNoAccount:
		return &fault.ConfigError{Op: op, Msg: msg + ": the deployer account does not exist"}
	}
	return &fault.InvariantError{Op: op, Msg: msg}
}

// readResult decodes a base64 TransactionResult and returns the two codes txError needs: the
// transaction's, and its operation's host function's when the one operation called one
// (else nil). A fee bump's inner result is followed, though the deployer sends none.
func readResult(b64 string) (xdr.TransactionResultCode, *xdr.InvokeHostFunctionResultCode, error) {
	var r xdr.TransactionResult
	if err := xdr.SafeUnmarshalBase64(b64, &r); err != nil {
		return 0, nil, err
	}
	code := r.Result.Code
	ops, ok := r.OperationResults()
	if !ok || len(ops) != 1 {
		return code, nil, nil
	}
	tr, ok := ops[0].GetTr()
	if !ok {
		return code, nil, nil
	}
	hostFn, ok := tr.GetInvokeHostFunctionResult()
	if !ok {
		return code, nil, nil
	}
	return code, &hostFn.Code, nil
}

// simulationError classifies a failed simulation, which reports host errors as text. A
// contract the host refuses (not Wasm, no metadata) is a configuration problem; anything
// else is a state the deployment did not expect.
func simulationError(op, text string) error {
	first := text
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	first = truncate(first, 200)
	lower := strings.ToLower(text)
	switch {
	case strings.Contains(lower, "wasm") && (strings.Contains(lower, "invalid") || strings.Contains(lower, "malformed") || strings.Contains(lower, "metadata")):
		return &fault.ConfigError{Op: op, Msg: "simulation failed: the contract Wasm is not acceptable: " + first}
	default:
		return &fault.InvariantError{Op: op, Msg: "simulation failed: " + first}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
