package soroban

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/stellar/go/keypair"
	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/protocols/stellarcore"
	"github.com/stellar/go/txnbuild"
	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Journal keeps, where every container sees it, each transaction a deployment sends,
// written before it is sent, so that a retry after an attempt that died between sending
// and seeing the outcome resumes that transaction (waits for it, or sends the very same
// envelope again, which applies at most once) instead of sending another.
type Journal interface {
	// Sending records the signed envelope of the transaction hash, from account, for the
	// tenant, valid until validUntil.
	Sending(ctx context.Context, tenantID uuid.UUID, account, hash, envelope string, validUntil time.Time) error
	// Unsettled lists the tenant's journalled transactions whose outcome is not recorded.
	Unsettled(ctx context.Context, tenantID uuid.UUID) ([]Pending, error)
	// Settled records a transaction's outcome (one of the Outcome values).
	Settled(ctx context.Context, hash, outcome string) error
}

// Pending is a journalled transaction without a recorded outcome.
type Pending struct {
	Hash, Envelope string
	ValidUntil     time.Time
}

// A journalled transaction's outcome.
const (
	OutcomeSuccess = "SUCCESS" // applied
	OutcomeFailed  = "FAILED"  // rejected or failed: it changed nothing but the fee
	OutcomeExpired = "EXPIRED" // never applied and never can: its time bounds passed, or its sequence number went to another
)

// txTimeout is the transaction's own validity window: a transaction that has not made it
// into a ledger by then can never apply, so a later retry cannot race it.
const txTimeout = 300

// A transaction is one Soroban operation sent from a deployer account, through its whole
// life: built on the account's next sequence number, simulated for its resources and
// authorisation, signed, journalled, sent, awaited, and settled with the outcome the
// network gave it. A transaction an earlier attempt journalled and never saw settle is
// resumed through the same steps. settle is the one place an outcome becomes the journal's
// record and the deployment's error.
type transaction struct {
	d          *Deployer // the network, the journal, and how long to wait
	op         string    // what the transaction is for, in errors
	tenantID   uuid.UUID
	account    string // the source, a deployer account of the pool
	hash       string
	envelope   string // signed, base64
	validUntil time.Time
	// resumed: an earlier attempt sent it. Whatever became of it, the deployment goes on
	// from what the ledger holds, unless it still has no verdict.
	resumed bool
}

// newTransaction builds, simulates and signs operation from signer's account, for the
// tenant's deployment. restoreKeys is the footprint of a RestoreFootprint operation.
func (d *Deployer) newTransaction(ctx context.Context, tenantID uuid.UUID, signer *keypair.Full, op string, operation txnbuild.Operation, restoreKeys ...xdr.LedgerKey) (*transaction, error) {
	acct, err := d.rpc.LoadAccount(ctx, signer.Address())
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
	if err := applySimulation(operation, sim); err != nil {
		return nil, &fault.InvariantError{Op: op, Msg: "malformed simulation result", Err: err}
	}

	tx, err := build(account, operation)
	if err != nil {
		return nil, &fault.InvariantError{Op: op, Msg: "cannot build the transaction", Err: err}
	}
	if tx, err = tx.Sign(d.passphrase, signer); err != nil {
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
	return &transaction{d: d, op: op, tenantID: tenantID, account: signer.Address(), hash: hash, envelope: envelope,
		validUntil: time.Unix(tx.Timebounds().MaxTime, 0)}, nil
}

// journalled is a transaction an earlier attempt journalled and never saw settle.
func (d *Deployer) journalled(tenantID uuid.UUID, p Pending) *transaction {
	return &transaction{d: d, op: "resume sent transaction", tenantID: tenantID, hash: p.Hash, envelope: p.Envelope,
		validUntil: p.ValidUntil, resumed: true}
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
// entries on the operation.
func applySimulation(operation txnbuild.Operation, sim protocol.SimulateTransactionResponse) error {
	var data xdr.SorobanTransactionData
	if err := xdr.SafeUnmarshalBase64(sim.TransactionDataXDR, &data); err != nil {
		return err
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
					return err
				}
				o.Auth = append(o.Auth, entry)
			}
		}
	case *txnbuild.RestoreFootprint:
		o.Ext = ext
	}
	return nil
}

// submit journals the signed transaction, sends it, awaits the network's verdict and
// settles it. The error is settle's, or the journal's that could not record it before the
// send (then nothing was sent).
func (t *transaction) submit(ctx context.Context) (outcome, error) {
	if t.d.journal != nil {
		// Journalled before sending, so an attempt that dies after sending leaves the next
		// one the transaction to resume.
		if err := t.d.journal.Sending(ctx, t.tenantID, t.account, t.hash, t.envelope, t.validUntil); err != nil {
			return outcome{}, err
		}
	}
	o := t.send(ctx)
	return o, t.settle(ctx, o)
}

// resume settles a journalled transaction: by its status once it is in a ledger; as
// expired once its time bounds have passed; or else by sending the very same envelope
// again (same hash: it applies at most once) and awaiting it.
func (t *transaction) resume(ctx context.Context) error {
	r, err := t.d.rpc.GetTransaction(ctx, protocol.GetTransactionRequest{Hash: t.hash})
	if err != nil {
		return rpcError(t.op, err)
	}
	o, found := inLedger(r)
	switch {
	case found:
	case !time.Now().Before(t.validUntil):
		o = outcome{state: expired, why: "transaction expired: its time bounds passed"}
	default:
		o = t.send(ctx)
	}
	return t.settle(ctx, o)
}

// send sends the signed envelope and awaits, up to the confirm timeout, the network's
// verdict.
func (t *transaction) send(ctx context.Context) outcome {
	ctx, cancel := context.WithTimeout(ctx, t.d.confirmTimeout)
	defer cancel()
	backoff := t.d.pollInterval
	for {
		resp, err := t.d.rpc.SendTransaction(ctx, protocol.SendTransactionRequest{Transaction: t.envelope})
		if err != nil {
			// The response may have been lost after the network took the transaction:
			// look for it by its hash before calling the attempt failed.
			return t.await(ctx, "sent, but the answer was lost and the transaction did not appear")
		}
		switch resp.Status {
		case stellarcore.TXStatusPending, stellarcore.TXStatusDuplicate:
			return t.await(ctx, "transaction not confirmed within "+t.d.confirmTimeout.String())
		case stellarcore.TXStatusTryAgainLater:
			// The same envelope is resent: it has the same hash, so it can apply at most once.
			select {
			case <-ctx.Done():
				return outcome{state: undecided, why: "the network kept asking to try again later"}
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
		case stellarcore.TXStatusError:
			return rejected(resp.ErrorResultXDR)
		default:
			return outcome{state: failed, why: "unknown send status " + resp.Status}
		}
	}
}

// await polls for the transaction until it is found in a ledger, or ctx ends (then it is
// undecided, for timeoutMsg's reason).
func (t *transaction) await(ctx context.Context, timeoutMsg string) outcome {
	for {
		r, err := t.d.rpc.GetTransaction(ctx, protocol.GetTransactionRequest{Hash: t.hash})
		if err == nil {
			if o, found := inLedger(r); found {
				return o
			}
		}
		// NOT_FOUND, or an RPC hiccup: the ledger may not have closed yet.
		select {
		case <-ctx.Done():
			return outcome{state: undecided, why: timeoutMsg}
		case <-time.After(t.d.pollInterval):
		}
	}
}

// settle records the outcome's verdict in the journal and returns what the deployment makes
// of the outcome (outcome.err). A transaction an earlier attempt sent stops the deployment
// only while it has no verdict: applied, failed or expired, the deployment goes on from what
// the ledger holds (a failed one changed nothing but the fee). An undecided one stays
// unsettled, for the next attempt to resume. A journal that cannot record the verdict is the
// error only when the outcome makes none of its own.
func (t *transaction) settle(ctx context.Context, o outcome) error {
	err := o.err(t.op)
	if t.resumed && o.state != undecided {
		err = nil
	}
	if verdict, final := o.verdict(); final && t.d.journal != nil {
		// Detached: a deployment ending because its context did still records what it saw.
		if jerr := t.d.journal.Settled(context.WithoutCancel(ctx), t.hash, verdict); err == nil {
			err = jerr
		}
	}
	return err
}

// txState is where a transaction stands.
type txState int

const (
	// undecided: no verdict yet. The transaction may be in flight, not seen, or refused for
	// now for a reason that can pass (its fee, the time, the server's trouble): the same
	// envelope may still apply.
	undecided txState = iota
	applied           // in a ledger, applied
	failed            // refused for good, or in a ledger and failed: it changed nothing but the fee
	expired           // never applied and never can: its time bounds passed, or its sequence number went to another
)

// An outcome is what became of a transaction, as the network told it.
type outcome struct {
	state txState
	// value is an applied host function's return value, from the transaction's meta (nil
	// when the meta carries none: a restore from protocol 23 on).
	value *xdr.ScVal
	// verb, code and hostFn are the network's answer: verb is "applied", "rejected"
	// (sendTransaction refused it; it never reached a ledger) or "failed" (in a ledger);
	// code the transaction's result code; hostFn its host function's, when one ran.
	verb   string
	code   xdr.TransactionResultCode
	hostFn *xdr.InvokeHostFunctionResultCode
	// unreadable is why the answer (a result, or an applied transaction's meta) did not
	// decode.
	unreadable error
	// why says, with no answer from the network, what happened instead.
	why string
}

// inLedger reads getTransaction's answer: the outcome of a transaction found in a ledger
// (found false while it is not, or NOT_FOUND).
func inLedger(r protocol.GetTransactionResponse) (o outcome, found bool) {
	switch r.Status {
	case protocol.TransactionStatusSuccess:
		return appliedWith(r.ResultMetaXDR), true
	case protocol.TransactionStatusFailed:
		// Its sequence number is spent and its hash is in a ledger: it can never apply,
		// whatever its result code says.
		o = result("failed", r.ResultXDR)
		o.state = failed
		return o, true
	}
	return outcome{}, false
}

// rejected reads sendTransaction's ERROR: the network refused the transaction, which never
// reached a ledger. The result code says whether the very same envelope can never apply
// (its sequence number went to another, its time bounds passed), might still (its fee, the
// time, the server's trouble), or was refused for good.
func rejected(resultXDR string) outcome {
	o := result("rejected", resultXDR)
	switch {
	case o.unreadable != nil:
		o.state = failed
	case o.code == xdr.TransactionResultCodeTxBadSeq, o.code == xdr.TransactionResultCodeTxTooLate:
		o.state = expired
	case o.code == xdr.TransactionResultCodeTxInsufficientFee, o.code == xdr.TransactionResultCodeTxTooEarly,
		o.code == xdr.TransactionResultCodeTxInternalError:
		o.state = undecided
	default:
		o.state = failed
	}
	return o
}

// result decodes a base64 TransactionResult: the transaction's result code, and its one
// operation's host function's when that ran (a fee bump's inner result is followed, though
// the deployer sends none).
func result(verb, b64 string) outcome {
	o := outcome{verb: verb}
	var r xdr.TransactionResult
	if err := xdr.SafeUnmarshalBase64(b64, &r); err != nil {
		o.unreadable = err
		return o
	}
	o.code = r.Result.Code
	if ops, ok := r.OperationResults(); ok && len(ops) == 1 {
		if tr, ok := ops[0].GetTr(); ok {
			if hostFn, ok := tr.GetInvokeHostFunctionResult(); ok {
				o.hostFn = &hostFn.Code
			}
		}
	}
	return o
}

// appliedWith is the outcome of an applied transaction, with its host function's return
// value read from its meta: V3 up to protocol 22, V4 from 23.
func appliedWith(metaXDR string) outcome {
	o := outcome{state: applied, verb: "applied"}
	var meta xdr.TransactionMeta
	if err := xdr.SafeUnmarshalBase64(metaXDR, &meta); err != nil {
		o.unreadable = err
		return o
	}
	if v3, ok := meta.GetV3(); ok && v3.SorobanMeta != nil {
		o.value = &v3.SorobanMeta.ReturnValue
	}
	if v4, ok := meta.GetV4(); ok && v4.SorobanMeta != nil {
		o.value = v4.SorobanMeta.ReturnValue
	}
	return o
}

// verdict is the outcome as the journal records it (an Outcome value); final is false while
// there is none.
func (o outcome) verdict() (verdict string, final bool) {
	switch o.state {
	case applied:
		return OutcomeSuccess, true
	case failed:
		return OutcomeFailed, true
	case expired:
		return OutcomeExpired, true
	}
	return "", false
}

// err is what the deployment makes of an outcome: nothing for an applied transaction;
// otherwise an error by the result code. Sequence, fee and time races are transient (a
// fresh transaction, or the same one later, may apply); an account that cannot pay or sign,
// or a host function that fails, will not get better by retrying. With no answer from the
// network, no verdict yet is transient; an answer that cannot be read is a bug.
func (o outcome) err(op string) error {
	switch {
	case o.unreadable != nil:
		what := "result"
		if o.state == applied {
			what = "meta"
		}
		return &fault.InvariantError{Op: op, Msg: "transaction " + o.verb + " with an unreadable " + what, Err: o.unreadable}
	case o.state == applied:
		return nil
	case o.verb == "" && o.state == failed:
		return &fault.InvariantError{Op: op, Msg: o.why}
	case o.verb == "":
		return &fault.TransientError{Op: op, Msg: o.why}
	}
	msg := "transaction " + o.verb + ": " + o.code.String()
	if o.hostFn != nil {
		msg += " (" + o.hostFn.String() + ")"
	}
	switch o.code {
	case xdr.TransactionResultCodeTxBadSeq, xdr.TransactionResultCodeTxInsufficientFee,
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
