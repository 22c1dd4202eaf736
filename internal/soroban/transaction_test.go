package soroban

import (
	"testing"

	"github.com/stellar/go/keypair"
	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/txnbuild"
	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// TestOutcomes reads the network's answers, encoded by the xdr package, into outcomes, and
// maps each to the journal's verdict and the deployment's error.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	encode := func(v any) string {
		b64, err := xdr.MarshalBase64(v)
		if err != nil {
			t.Fatal(err)
		}
		return b64
	}
	txResult := func(code xdr.TransactionResultCode, ops ...xdr.OperationResult) string {
		r := xdr.TransactionResult{FeeCharged: 12345, Result: xdr.TransactionResultResult{Code: code}}
		if code == xdr.TransactionResultCodeTxSuccess || code == xdr.TransactionResultCodeTxFailed {
			r.Result.Results = &ops
		}
		return encode(r)
	}
	hostFn := func(code xdr.InvokeHostFunctionResultCode) xdr.OperationResult {
		r := &xdr.InvokeHostFunctionResult{Code: code}
		if code == xdr.InvokeHostFunctionResultCodeInvokeHostFunctionSuccess {
			r.Success = &xdr.Hash{9} // the hash of the return value and events
		}
		return xdr.OperationResult{Code: xdr.OperationResultCodeOpInner, Tr: &xdr.OperationResultTr{
			Type: xdr.OperationTypeInvokeHostFunction, InvokeHostFunctionResult: r,
		}}
	}
	id := xdr.ContractId{7}
	created := xdr.ScVal{Type: xdr.ScValTypeScvAddress, Address: &xdr.ScAddress{Type: xdr.ScAddressTypeScAddressTypeContract, ContractId: &id}}
	metaV4 := encode(xdr.TransactionMeta{V: 4, V4: &xdr.TransactionMetaV4{SorobanMeta: &xdr.SorobanTransactionMetaV2{ReturnValue: &created}}})
	metaV3 := encode(xdr.TransactionMeta{V: 3, V3: &xdr.TransactionMetaV3{SorobanMeta: &xdr.SorobanTransactionMeta{ReturnValue: created}}})
	restoredV4 := encode(xdr.TransactionMeta{V: 4, V4: &xdr.TransactionMetaV4{SorobanMeta: &xdr.SorobanTransactionMetaV2{}}})
	landed := func(status, resultXDR, metaXDR string) outcome {
		o, found := inLedger(protocol.GetTransactionResponse{TransactionDetails: protocol.TransactionDetails{
			Status: status, ResultXDR: resultXDR, ResultMetaXDR: metaXDR}})
		if !found {
			t.Fatalf("a %s transaction was not found", status)
		}
		return o
	}
	trapped := txResult(xdr.TransactionResultCodeTxFailed, hostFn(xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped))

	cases := []struct {
		name    string
		got     outcome
		state   txState
		verdict string // the journal's; "" for none
		err     string // error type; "" for none
		msg     string // the error's message after "create contract: "
	}{
		{"applied, meta V4", landed(protocol.TransactionStatusSuccess, txResult(xdr.TransactionResultCodeTxSuccess,
			hostFn(xdr.InvokeHostFunctionResultCodeInvokeHostFunctionSuccess)), metaV4), applied, OutcomeSuccess, "", ""},
		{"applied, meta V3", landed(protocol.TransactionStatusSuccess, "", metaV3), applied, OutcomeSuccess, "", ""},
		{"restored, meta V4 without a value", landed(protocol.TransactionStatusSuccess, "", restoredV4), applied, OutcomeSuccess, "", ""},
		{"applied, meta not a TransactionMeta", landed(protocol.TransactionStatusSuccess, "", encode(created)), applied, OutcomeSuccess,
			"InvariantError", "transaction applied with an unreadable meta"},

		{"failed in a ledger: host function trapped", landed(protocol.TransactionStatusFailed, trapped, ""), failed, OutcomeFailed,
			"InvariantError", "transaction failed: TransactionResultCodeTxFailed (InvokeHostFunctionResultCodeInvokeHostFunctionTrapped)"},
		{"failed in a ledger: resource limit", landed(protocol.TransactionStatusFailed, txResult(xdr.TransactionResultCodeTxFailed,
			hostFn(xdr.InvokeHostFunctionResultCodeInvokeHostFunctionResourceLimitExceeded)), ""), failed, OutcomeFailed,
			"InvariantError", "transaction failed: TransactionResultCodeTxFailed (InvokeHostFunctionResultCodeInvokeHostFunctionResourceLimitExceeded)"},
		{"failed in a ledger: another operation", landed(protocol.TransactionStatusFailed, txResult(xdr.TransactionResultCodeTxFailed,
			xdr.OperationResult{Code: xdr.OperationResultCodeOpInner, Tr: &xdr.OperationResultTr{
				Type:                   xdr.OperationTypeRestoreFootprint,
				RestoreFootprintResult: &xdr.RestoreFootprintResult{Code: xdr.RestoreFootprintResultCodeRestoreFootprintResourceLimitExceeded},
			}}), ""), failed, OutcomeFailed, "InvariantError", "transaction failed: TransactionResultCodeTxFailed"},
		{"failed in a ledger: two operations", landed(protocol.TransactionStatusFailed, txResult(xdr.TransactionResultCodeTxFailed,
			hostFn(xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped), hostFn(xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped)), ""),
			failed, OutcomeFailed, "InvariantError", "transaction failed: TransactionResultCodeTxFailed"},
		{"failed in a ledger: operation not run", landed(protocol.TransactionStatusFailed, txResult(xdr.TransactionResultCodeTxFailed,
			xdr.OperationResult{Code: xdr.OperationResultCodeOpNoAccount}), ""), failed, OutcomeFailed,
			"InvariantError", "transaction failed: TransactionResultCodeTxFailed"},
		{"failed in a ledger with a result cut short", landed(protocol.TransactionStatusFailed, trapped[:len(trapped)-8], ""), failed, OutcomeFailed,
			"InvariantError", "transaction failed with an unreadable result"},

		{"rejected: bad sequence", rejected(txResult(xdr.TransactionResultCodeTxBadSeq)), expired, OutcomeExpired,
			"TransientError", "transaction rejected: TransactionResultCodeTxBadSeq"},
		{"rejected: too late", rejected(txResult(xdr.TransactionResultCodeTxTooLate)), expired, OutcomeExpired,
			"TransientError", "transaction rejected: TransactionResultCodeTxTooLate"},
		{"rejected: fee too low for now", rejected(txResult(xdr.TransactionResultCodeTxInsufficientFee)), undecided, "",
			"TransientError", "transaction rejected: TransactionResultCodeTxInsufficientFee"},
		{"rejected: cannot pay", rejected(txResult(xdr.TransactionResultCodeTxInsufficientBalance)), failed, OutcomeFailed,
			"ConfigError", "transaction rejected: TransactionResultCodeTxInsufficientBalance: the deployer account cannot pay the fee"},
		{"rejected: bad signature", rejected(txResult(xdr.TransactionResultCodeTxBadAuth)), failed, OutcomeFailed,
			"ConfigError", "transaction rejected: TransactionResultCodeTxBadAuth: signature rejected (wrong network or deployer key)"},
		{"rejected: not base64", rejected("%%%"), failed, OutcomeFailed,
			"InvariantError", "transaction rejected with an unreadable result"},
		{"rejected: not a TransactionResult", rejected(encode(created)), failed, OutcomeFailed,
			"InvariantError", "transaction rejected with an unreadable result"},

		{"no verdict", outcome{why: "transaction not confirmed within 1m0s"}, undecided, "",
			"TransientError", "transaction not confirmed within 1m0s"},
		{"expired by its time bounds", outcome{state: expired, why: "transaction expired: its time bounds passed"}, expired, OutcomeExpired,
			"TransientError", "transaction expired: its time bounds passed"},
		{"unknown send status", outcome{state: failed, why: "unknown send status WHAT"}, failed, OutcomeFailed,
			"InvariantError", "unknown send status WHAT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.got.state != c.state {
				t.Errorf("state = %d, want %d", c.got.state, c.state)
			}
			verdict, final := c.got.verdict()
			if verdict != c.verdict || final != (c.verdict != "") {
				t.Errorf("verdict = %q, %v; want %q", verdict, final, c.verdict)
			}
			err := c.got.err("create contract")
			if got := fault.Name(err); got != c.err {
				t.Fatalf("error = %v (%s), want %s", err, got, c.err)
			}
			if err != nil {
				if got, want := err.Error(), "create contract: "+c.msg; got != want {
					t.Errorf("error = %q, want %q", got, want)
				}
			}
		})
	}

	for name, o := range map[string]outcome{"V4": cases[0].got, "V3": cases[1].got} {
		if o.value == nil || o.value.Address == nil || o.value.Address.ContractId == nil || *o.value.Address.ContractId != id {
			t.Errorf("applied, meta %s: return value = %v, want the created contract's address", name, o.value)
		}
	}
	if o := cases[2].got; o.value != nil {
		t.Errorf("restored: return value = %v, want none", o.value)
	}
	if _, found := inLedger(protocol.GetTransactionResponse{TransactionDetails: protocol.TransactionDetails{Status: protocol.TransactionStatusNotFound}}); found {
		t.Error("a transaction NOT_FOUND was found")
	}
}

func TestApplySimulationSetsResourcesAndAuth(t *testing.T) {
	t.Parallel()
	footprint := xdr.LedgerFootprint{ReadOnly: []xdr.LedgerKey{}, ReadWrite: []xdr.LedgerKey{}}
	data, err := xdr.MarshalBase64(xdr.SorobanTransactionData{ResourceFee: 4321, Resources: xdr.SorobanResources{Footprint: footprint}})
	if err != nil {
		t.Fatal(err)
	}
	preimage, err := fromAddress(keypair.MustRandom().Address(), [32]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	wasmHash := xdr.Hash{2}
	auth, err := xdr.MarshalBase64(xdr.SorobanAuthorizationEntry{
		Credentials: xdr.SorobanCredentials{Type: xdr.SorobanCredentialsTypeSorobanCredentialsSourceAccount},
		RootInvocation: xdr.SorobanAuthorizedInvocation{
			Function: xdr.SorobanAuthorizedFunction{
				Type: xdr.SorobanAuthorizedFunctionTypeSorobanAuthorizedFunctionTypeCreateContractV2HostFn,
				CreateContractV2HostFn: &xdr.CreateContractArgsV2{ContractIdPreimage: preimage, ConstructorArgs: []xdr.ScVal{},
					Executable: xdr.ContractExecutable{Type: xdr.ContractExecutableTypeContractExecutableWasm, WasmHash: &wasmHash}},
			},
			SubInvocations: []xdr.SorobanAuthorizedInvocation{},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sim := protocol.SimulateTransactionResponse{TransactionDataXDR: data, Results: []protocol.SimulateHostFunctionResult{{AuthXDR: &[]string{auth}}}}

	invoke := &txnbuild.InvokeHostFunction{}
	if err := applySimulation(invoke, sim); err != nil {
		t.Fatal(err)
	}
	if invoke.Ext.SorobanData == nil || invoke.Ext.SorobanData.ResourceFee != 4321 || len(invoke.Auth) != 1 ||
		invoke.Auth[0].Credentials.Type != xdr.SorobanCredentialsTypeSorobanCredentialsSourceAccount {
		t.Errorf("operation after the simulation: ext %+v, auth %+v", invoke.Ext, invoke.Auth)
	}

	restore := &txnbuild.RestoreFootprint{}
	if err := applySimulation(restore, protocol.SimulateTransactionResponse{TransactionDataXDR: data}); err != nil || restore.Ext.SorobanData == nil {
		t.Errorf("restore: ext %+v, %v", restore.Ext, err)
	}

	sim.Results[0].AuthXDR = &[]string{"AAAA"}
	if err := applySimulation(&txnbuild.InvokeHostFunction{}, sim); err == nil {
		t.Error("a malformed auth entry was accepted")
	}
}
