// Command specgen writes the tenant anchor contract's interface, its contractspecv0
// section: XDR SCSpecEntry values, one per exported function. The host does not read it;
// tools do (the stellar CLI parses `contract invoke` and `contract deploy` arguments with
// it, explorers and generated clients show it). build.sh passes the file to cmd/wasmmeta.
//
//	go run ./contracts/tenant-anchor/specgen -out spec.xdr
//
// It must describe exactly what tenant_anchor.wat exports; anchor_test.go checks that
// against the committed binary.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/stellar/go/xdr"
)

func main() {
	out := flag.String("out", "", "file to write the XDR to (required)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: specgen -out FILE")
		os.Exit(2)
	}
	b, err := marshal(entries())
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "specgen:", err)
		os.Exit(1)
	}
}

// entries is the contract's interface, in the order of the exports.
func entries() []xdr.ScSpecEntry {
	bytes32 := xdr.ScSpecTypeDef{Type: xdr.ScSpecTypeScSpecTypeBytesN, BytesN: &xdr.ScSpecTypeBytesN{N: 32}}
	address := xdr.ScSpecTypeDef{Type: xdr.ScSpecTypeScSpecTypeAddress}
	u32 := xdr.ScSpecTypeDef{Type: xdr.ScSpecTypeScSpecTypeU32}
	return []xdr.ScSpecEntry{
		function("__constructor",
			"Records the tenant (sha256 of the tenant id) and its admin address in instance storage.",
			[]xdr.ScSpecFunctionInputV0{
				{Name: "tenant", Type: bytes32},
				{Name: "admin", Type: address},
			}),
		function("tenant", "The sha256 of the tenant id recorded at construction.", nil, bytes32),
		function("admin", "The admin address recorded at construction.", nil, address),
		function("version", "The contract's interface version: 1.", nil, u32),
	}
}

func function(name, doc string, inputs []xdr.ScSpecFunctionInputV0, outputs ...xdr.ScSpecTypeDef) xdr.ScSpecEntry {
	return xdr.ScSpecEntry{
		Kind: xdr.ScSpecEntryKindScSpecEntryFunctionV0,
		FunctionV0: &xdr.ScSpecFunctionV0{
			Doc:     doc,
			Name:    xdr.ScSymbol(name),
			Inputs:  inputs,
			Outputs: outputs,
		},
	}
}

// marshal concatenates the XDR of the entries, as contractspecv0 holds them.
func marshal(entries []xdr.ScSpecEntry) ([]byte, error) {
	var buf bytes.Buffer
	for _, e := range entries {
		b, err := e.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("spec entry %s: %w", e.FunctionV0.Name, err)
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
