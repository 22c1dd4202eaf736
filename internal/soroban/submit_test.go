package soroban

import (
	"testing"

	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/txnbuild"
	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// TestTxErrorReadsTheResultCodes classifies TransactionResults that the xdr package encodes.
func TestTxErrorReadsTheResultCodes(t *testing.T) {
	t.Parallel()
	hostFn := func(code xdr.InvokeHostFunctionResultCode) xdr.OperationResult {
		return xdr.OperationResult{Code: xdr.OperationResultCodeOpInner, Tr: &xdr.OperationResultTr{
			Type:                     xdr.OperationTypeInvokeHostFunction,
			InvokeHostFunctionResult: &xdr.InvokeHostFunctionResult{Code: code},
		}}
	}
	encode := func(t *testing.T, code xdr.TransactionResultCode, ops ...xdr.OperationResult) string {
		t.Helper()
		r := xdr.TransactionResult{FeeCharged: 12345, Result: xdr.TransactionResultResult{Code: code}}
		if code == xdr.TransactionResultCodeTxSuccess || code == xdr.TransactionResultCodeTxFailed {
			r.Result.Results = &ops
		}
		b64, err := xdr.MarshalBase64(r)
		if err != nil {
			t.Fatal(err)
		}
		return b64
	}
	cases := []struct {
		name   string
		result func(t *testing.T) string
		want   string // error class
		msg    string // exact Msg
	}{
		{"bad sequence", func(t *testing.T) string { return encode(t, xdr.TransactionResultCodeTxBadSeq) },
			"TransientError", "transaction rejected: TransactionResultCodeTxBadSeq"},
		{"cannot pay", func(t *testing.T) string { return encode(t, xdr.TransactionResultCodeTxInsufficientBalance) },
			"ConfigError", "transaction rejected: TransactionResultCodeTxInsufficientBalance: the deployer account cannot pay the fee"},
		{"bad signature", func(t *testing.T) string { return encode(t, xdr.TransactionResultCodeTxBadAuth) },
			"ConfigError", "transaction rejected: TransactionResultCodeTxBadAuth: signature rejected (wrong network or deployer key)"},
		{"host function trapped", func(t *testing.T) string {
			return encode(t, xdr.TransactionResultCodeTxFailed, hostFn(xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped))
		}, "InvariantError", "transaction rejected: TransactionResultCodeTxFailed (InvokeHostFunctionResultCodeInvokeHostFunctionTrapped)"},
		{"another operation failed", func(t *testing.T) string {
			return encode(t, xdr.TransactionResultCodeTxFailed, xdr.OperationResult{Code: xdr.OperationResultCodeOpInner, Tr: &xdr.OperationResultTr{
				Type:                   xdr.OperationTypeRestoreFootprint,
				RestoreFootprintResult: &xdr.RestoreFootprintResult{Code: xdr.RestoreFootprintResultCodeRestoreFootprintResourceLimitExceeded},
			}})
		}, "InvariantError", "transaction rejected: TransactionResultCodeTxFailed"},
		{"two operations", func(t *testing.T) string {
			return encode(t, xdr.TransactionResultCodeTxFailed,
				hostFn(xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped), hostFn(xdr.InvokeHostFunctionResultCodeInvokeHostFunctionTrapped))
		}, "InvariantError", "transaction rejected: TransactionResultCodeTxFailed"},
		{"operation not run", func(t *testing.T) string {
			return encode(t, xdr.TransactionResultCodeTxFailed, xdr.OperationResult{Code: xdr.OperationResultCodeOpNoAccount})
		}, "InvariantError", "transaction rejected: TransactionResultCodeTxFailed"},
		{"not base64", func(*testing.T) string { return "%%%" }, "InvariantError", "transaction rejected with an unreadable result"},
		{"truncated", func(*testing.T) string { return "AAAAAAAAMDk=" }, "InvariantError", "transaction rejected with an unreadable result"},
		{"unknown code", func(*testing.T) string { return "AAAAAAAAMDkAAABj" }, "InvariantError", "transaction rejected with an unreadable result"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := txError("send", "rejected", c.result(t))
			if got := fault.Name(err); got != c.want {
				t.Fatalf("error = %v (%s), want %s", err, got, c.want)
			}
			if got, want := err.Error(), "send: "+c.msg; got != want {
				t.Errorf("error = %q, want %q", got, want)
			}
		})
	}
}

func TestApplySimulationReturnsTheSimulatedValue(t *testing.T) {
	t.Parallel()
	data, err := xdr.MarshalBase64(xdr.SorobanTransactionData{Resources: xdr.SorobanResources{Footprint: xdr.LedgerFootprint{ReadOnly: []xdr.LedgerKey{}, ReadWrite: []xdr.LedgerKey{}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := xdr.ContractId{7}
	ret, err := xdr.MarshalBase64(xdr.ScVal{Type: xdr.ScValTypeScvAddress, Address: &xdr.ScAddress{Type: xdr.ScAddressTypeScAddressTypeContract, ContractId: &id}})
	if err != nil {
		t.Fatal(err)
	}
	auth := []string{}
	sim := protocol.SimulateTransactionResponse{TransactionDataXDR: data, Results: []protocol.SimulateHostFunctionResult{{AuthXDR: &auth, ReturnValueXDR: &ret}}}

	got, err := applySimulation(&txnbuild.InvokeHostFunction{}, sim)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Address == nil || got.Address.ContractId == nil || *got.Address.ContractId != id {
		t.Errorf("return value = %v, want the contract address", got)
	}

	if got, err := applySimulation(&txnbuild.RestoreFootprint{}, protocol.SimulateTransactionResponse{TransactionDataXDR: data}); err != nil || got != nil {
		t.Errorf("restore: return value = %v, %v; want none", got, err)
	}

	bad := "AAAA"
	sim.Results[0].ReturnValueXDR = &bad
	if _, err := applySimulation(&txnbuild.InvokeHostFunction{}, sim); err == nil {
		t.Error("a malformed return value was accepted")
	}
}
