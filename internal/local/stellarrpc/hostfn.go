package stellarrpc

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/stellar/go/network"
	"github.com/stellar/go/strkey"
	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/wasm"
)

// TxKind is what a transaction's one Soroban operation does.
type TxKind string

// The kinds of transaction the double knows. KindInvoke is recognised only to be refused: the
// double cannot run Wasm.
const (
	KindUpload  TxKind = "upload"
	KindCreate  TxKind = "create"
	KindRestore TxKind = "restore"
	KindInvoke  TxKind = "invoke"
)

// failure is how a host-level error surfaces in the operation result.
type failure int

const (
	trapped failure = iota
	resourceLimit
	entryArchived
	malformed
	noAccount
)

// hostError is a failure of the operation itself: a simulation error, or a FAILED transaction
// whose fee and sequence number are spent. errType and errCode are what the host's diagnostic
// event would carry.
type hostError struct {
	fail    failure
	errType xdr.ScErrorType
	errCode xdr.ScErrorCode
	msg     string
}

func (e *hostError) Error() string { return e.msg }

func hostErr(fail failure, t xdr.ScErrorType, c xdr.ScErrorCode, format string, args ...any) *hostError {
	return &hostError{fail: fail, errType: t, errCode: c, msg: fmt.Sprintf(format, args...)}
}

// resources are what an operation reads, writes and computes; the double's numbers are
// deterministic stand-ins, not the network's metering.
type resources struct {
	instructions, readBytes, writeBytes uint32
}

func declared(d xdr.SorobanTransactionData) resources {
	r := d.Resources
	return resources{uint32(r.Instructions), uint32(r.DiskReadBytes), uint32(r.WriteBytes)}
}

func (r resources) covers(need resources) bool {
	return r.instructions >= need.instructions && r.readBytes >= need.readBytes && r.writeBytes >= need.writeBytes
}

// resourceFee prices resources roughly like testnet (25 stroops per 10k instructions, ~1.8k
// per KiB read, ~11.8k per KiB written, plus a flat part for rent and size), so that fees
// look plausible and a client that sends less than simulation asked for is caught.
func resourceFee(r resources) int64 {
	return 20_000 + int64(r.instructions)*25/10_000 + int64(r.readBytes)*1_786/1_024 + int64(r.writeBytes)*11_800/1_024
}

// plan is what an operation would do against the current ledger: what its footprint must
// hold, what it costs, what it returns, and the state it would write. Simulation reports it;
// sendTransaction checks the transaction against it and then commits it.
type plan struct {
	kind      TxKind
	readOnly  []xdr.LedgerKey
	readWrite []xdr.LedgerKey
	archived  []xdr.LedgerKey // footprint entries that need a RestoreFootprint first
	needs     resources
	auth      []xdr.SorobanAuthorizationEntry // what simulation records
	accepts   []xdr.SorobanAuthorizationEntry // any one of these authorizes the operation
	ret       xdr.ScVal

	wasmHash xdr.Hash
	wasm     []byte         // upload
	contract xdr.ContractId // create
	args     []xdr.ScVal    // create
	restore  []xdr.LedgerKey
}

// kindOf names what op does, for the record of applied transactions.
func kindOf(op xdr.Operation) TxKind {
	if op.Body.Type == xdr.OperationTypeRestoreFootprint {
		return KindRestore
	}
	switch op.Body.InvokeHostFunctionOp.HostFunction.Type {
	case xdr.HostFunctionTypeHostFunctionTypeUploadContractWasm:
		return KindUpload
	case xdr.HostFunctionTypeHostFunctionTypeCreateContract, xdr.HostFunctionTypeHostFunctionTypeCreateContractV2:
		return KindCreate
	}
	return KindInvoke
}

// plan works out what op would do with invoker as its source account. data is the
// transaction's Soroban data: RestoreFootprint takes its keys from there.
func (s *Server) plan(op xdr.Operation, invoker xdr.AccountId, data *xdr.SorobanTransactionData) (*plan, *hostError) {
	switch op.Body.Type {
	case xdr.OperationTypeRestoreFootprint:
		return s.planRestore(data)
	case xdr.OperationTypeInvokeHostFunction:
	default:
		return nil, hostErr(malformed, xdr.ScErrorTypeSceContext, xdr.ScErrorCodeScecInvalidInput, "operation %s is not modelled by the Stellar RPC double", op.Body.Type)
	}
	fn := op.Body.InvokeHostFunctionOp.HostFunction
	switch fn.Type {
	case xdr.HostFunctionTypeHostFunctionTypeUploadContractWasm:
		return s.planUpload(*fn.Wasm)
	case xdr.HostFunctionTypeHostFunctionTypeCreateContract:
		args := xdr.CreateContractArgsV2{ContractIdPreimage: fn.CreateContract.ContractIdPreimage, Executable: fn.CreateContract.Executable}
		return s.planCreate(args, false, invoker)
	case xdr.HostFunctionTypeHostFunctionTypeCreateContractV2:
		if s.protocol < 22 {
			return nil, hostErr(malformed, xdr.ScErrorTypeSceContext, xdr.ScErrorCodeScecInvalidInput, "CreateContractV2 needs protocol 22, the network runs %d", s.protocol)
		}
		return s.planCreate(*fn.CreateContractV2, true, invoker)
	}
	return nil, hostErr(trapped, xdr.ScErrorTypeSceWasmVm, xdr.ScErrorCodeScecInvalidAction, "the Stellar RPC double cannot run contract code (%s)", fn.Type)
}

func (s *Server) planUpload(code []byte) (*plan, *hostError) {
	if err := s.checkWasm(code); err != nil {
		return nil, err
	}
	hash := xdr.Hash(sha256.Sum256(code))
	key := codeKey(hash)
	p := &plan{
		kind:      KindUpload,
		readWrite: []xdr.LedgerKey{key},
		ret:       xdr.ScVal{Type: xdr.ScValTypeScvBytes, Bytes: ptr(xdr.ScBytes(hash[:]))},
		wasmHash:  hash,
		wasm:      code,
	}
	entry := (&codeEntry{wasm: code}).entry(hash)
	p.needs = resources{instructions: 1_000_000 + 1_000*uint32(len(code)), writeBytes: entrySize(entry)}
	if c, ok := s.code[hash]; ok && !s.live(c.liveUntil) {
		p.archived = append(p.archived, key)
	}
	return p, nil
}

// maxContractSize is the network's limit on a contract's Wasm (64 KiB on testnet and mainnet).
const maxContractSize = 64 * 1024

// checkWasm applies the host's upload-time checks that do not need a VM: a well-formed module
// with the contract env meta section, built for a protocol the network runs.
func (s *Server) checkWasm(code []byte) *hostError {
	if len(code) > maxContractSize {
		return hostErr(trapped, xdr.ScErrorTypeSceBudget, xdr.ScErrorCodeScecExceededLimit, "contract of %d bytes exceeds the network's %d-byte limit", len(code), maxContractSize)
	}
	if _, err := wasm.Sections(code); err != nil {
		return hostErr(trapped, xdr.ScErrorTypeSceWasmVm, xdr.ScErrorCodeScecInvalidAction, "failed to parse Wasm module: %v", err)
	}
	p, err := wasm.InterfaceProtocol(code)
	if err != nil {
		return hostErr(trapped, xdr.ScErrorTypeSceWasmVm, xdr.ScErrorCodeScecInvalidInput, "contract missing metadata section or malformed: %v", err)
	}
	if int(p) > s.protocol {
		return hostErr(trapped, xdr.ScErrorTypeSceWasmVm, xdr.ScErrorCodeScecInvalidInput, "contract protocol number %d is newer than the network's %d", p, s.protocol)
	}
	return nil
}

func (s *Server) planCreate(args xdr.CreateContractArgsV2, v2 bool, invoker xdr.AccountId) (*plan, *hostError) {
	pre := args.ContractIdPreimage
	if pre.Type != xdr.ContractIdPreimageTypeContractIdPreimageFromAddress {
		return nil, hostErr(trapped, xdr.ScErrorTypeSceContext, xdr.ScErrorCodeScecInvalidInput, "the Stellar RPC double models contracts from an address, not from an asset")
	}
	if addr := pre.FromAddress.Address; addr.Type != xdr.ScAddressTypeScAddressTypeAccount || !addr.AccountId.Equals(invoker) {
		return nil, hostErr(trapped, xdr.ScErrorTypeSceAuth, xdr.ScErrorCodeScecInvalidAction, "the deployer must be the operation's source account: the Stellar RPC double does not model address-credential authorization")
	}
	if args.Executable.Type != xdr.ContractExecutableTypeContractExecutableWasm {
		return nil, hostErr(trapped, xdr.ScErrorTypeSceContext, xdr.ScErrorCodeScecInvalidInput, "the Stellar RPC double creates Wasm contracts only")
	}
	id, err := contractID(s.networkID, pre)
	if err != nil {
		return nil, hostErr(malformed, xdr.ScErrorTypeSceValue, xdr.ScErrorCodeScecInvalidInput, "contract id preimage: %v", err)
	}
	hash := *args.Executable.WasmHash
	code, ok := s.code[hash]
	if !ok {
		return nil, hostErr(trapped, xdr.ScErrorTypeSceStorage, xdr.ScErrorCodeScecMissingValue, "Wasm %x is not installed: upload it first", hash[:])
	}
	if _, exists := s.instances[id]; exists {
		return nil, hostErr(trapped, xdr.ScErrorTypeSceStorage, xdr.ScErrorCodeScecExistingValue, "contract already exists: %s", strkey.MustEncode(strkey.VersionByteContract, id[:]))
	}
	if len(args.ConstructorArgs) > 0 {
		if err := checkConstructor(code.wasm); err != nil {
			return nil, err
		}
	}
	p := &plan{
		kind:      KindCreate,
		readOnly:  []xdr.LedgerKey{codeKey(hash)},
		readWrite: []xdr.LedgerKey{instanceKey(id)},
		auth:      []xdr.SorobanAuthorizationEntry{createAuth(args, v2)},
		accepts:   []xdr.SorobanAuthorizationEntry{createAuth(args, v2)},
		ret:       xdr.ScVal{Type: xdr.ScValTypeScvAddress, Address: ptr(contractAddress(id))},
		wasmHash:  hash,
		contract:  id,
		args:      args.ConstructorArgs,
	}
	argsSize := 0
	for _, a := range args.ConstructorArgs {
		b, _ := a.MarshalBinary()
		argsSize += len(b)
	}
	p.needs = resources{
		instructions: 1_000_000,
		readBytes:    entrySize(code.entry(hash)),
		writeBytes:   entrySize((&instanceEntry{wasmHash: hash}).entry(id)) + uint32(argsSize),
	}
	if len(args.ConstructorArgs) > 0 {
		p.needs.instructions += 2_000_000 // the constructor runs in the same invocation
	}
	if v2 && len(args.ConstructorArgs) == 0 {
		// The host lets a pre-22 CreateContractHostFn entry authorize a V2 create without
		// constructor arguments, so that older signing code keeps working.
		p.accepts = append(p.accepts, createAuth(args, false))
	}
	if !s.live(code.liveUntil) {
		p.archived = append(p.archived, codeKey(hash))
	}
	return p, nil
}

// checkConstructor refuses constructor arguments the host would: for a contract built before
// protocol 22, or one without a __constructor export.
func checkConstructor(code []byte) *hostError {
	if p, err := wasm.InterfaceProtocol(code); err != nil || p < 22 {
		return hostErr(trapped, xdr.ScErrorTypeSceContext, xdr.ScErrorCodeScecInvalidAction, "constructor arguments need a contract built for protocol 22 or later")
	}
	exports, err := wasm.Exports(code)
	if err != nil || !slices.Contains(exports, "__constructor") {
		return hostErr(trapped, xdr.ScErrorTypeSceWasmVm, xdr.ScErrorCodeScecMissingValue, "constructor arguments given but the contract exports no __constructor")
	}
	return nil
}

// createAuth is the authorization the host records for creating a contract from the source
// account: the create host function itself, with source-account credentials (no signature).
func createAuth(args xdr.CreateContractArgsV2, v2 bool) xdr.SorobanAuthorizationEntry {
	fn := xdr.SorobanAuthorizedFunction{
		Type:                   xdr.SorobanAuthorizedFunctionTypeSorobanAuthorizedFunctionTypeCreateContractV2HostFn,
		CreateContractV2HostFn: &args,
	}
	if !v2 {
		fn = xdr.SorobanAuthorizedFunction{
			Type:                 xdr.SorobanAuthorizedFunctionTypeSorobanAuthorizedFunctionTypeCreateContractHostFn,
			CreateContractHostFn: &xdr.CreateContractArgs{ContractIdPreimage: args.ContractIdPreimage, Executable: args.Executable},
		}
	}
	return xdr.SorobanAuthorizationEntry{
		Credentials:    xdr.SorobanCredentials{Type: xdr.SorobanCredentialsTypeSorobanCredentialsSourceAccount},
		RootInvocation: xdr.SorobanAuthorizedInvocation{Function: fn, SubInvocations: []xdr.SorobanAuthorizedInvocation{}},
	}
}

// planRestore restores the archived entries among the footprint's read-write keys; live and
// missing ones are left alone, as on the network.
func (s *Server) planRestore(data *xdr.SorobanTransactionData) (*plan, *hostError) {
	if data == nil {
		return nil, hostErr(malformed, xdr.ScErrorTypeSceContext, xdr.ScErrorCodeScecInvalidInput, "RestoreFootprint needs the keys to restore in the transaction's footprint")
	}
	fp := data.Resources.Footprint
	if len(fp.ReadOnly) > 0 {
		return nil, hostErr(malformed, xdr.ScErrorTypeSceStorage, xdr.ScErrorCodeScecInvalidInput, "RestoreFootprint needs an empty read-only footprint")
	}
	p := &plan{kind: KindRestore, readWrite: fp.ReadWrite, ret: xdr.ScVal{Type: xdr.ScValTypeScvVoid}}
	for _, key := range fp.ReadWrite {
		if !persistent(key) {
			return nil, hostErr(malformed, xdr.ScErrorTypeSceStorage, xdr.ScErrorCodeScecInvalidInput, "RestoreFootprint can only restore persistent contract entries, not %s", key.Type)
		}
		st, ok := s.lookup(key)
		if !ok || s.live(*st.liveUntil) {
			continue
		}
		size := entrySize(st.entry)
		p.needs.readBytes += size
		p.needs.writeBytes += size
		p.restore = append(p.restore, key)
	}
	return p, nil
}

func persistent(key xdr.LedgerKey) bool {
	switch key.Type {
	case xdr.LedgerEntryTypeContractCode:
		return true
	case xdr.LedgerEntryTypeContractData:
		return key.ContractData.Durability == xdr.ContractDataDurabilityPersistent
	}
	return false
}

// check holds a transaction to its plan: no archived entries touched, a footprint that covers
// the plan's, resources at least the plan's, and (for create) the authorization simulation
// returned.
func (p *plan) check(data xdr.SorobanTransactionData, auth []xdr.SorobanAuthorizationEntry) *hostError {
	if len(p.archived) > 0 {
		return hostErr(entryArchived, xdr.ScErrorTypeSceStorage, xdr.ScErrorCodeScecInvalidAction, "archived entry in the footprint: restore it first (%s)", p.archived[0].Type)
	}
	fp := data.Resources.Footprint
	for _, k := range p.readWrite {
		if !containsKey(fp.ReadWrite, k) {
			return hostErr(trapped, xdr.ScErrorTypeSceStorage, xdr.ScErrorCodeScecExceededLimit, "footprint: %s key missing from the read-write set", k.Type)
		}
	}
	for _, k := range p.readOnly {
		if !containsKey(fp.ReadOnly, k) && !containsKey(fp.ReadWrite, k) {
			return hostErr(trapped, xdr.ScErrorTypeSceStorage, xdr.ScErrorCodeScecExceededLimit, "footprint: %s key missing", k.Type)
		}
	}
	if !declared(data).covers(p.needs) {
		return hostErr(resourceLimit, xdr.ScErrorTypeSceBudget, xdr.ScErrorCodeScecExceededLimit, "declared resources %+v below what the operation needs %+v", declared(data), p.needs)
	}
	if len(p.accepts) > 0 && !slices.ContainsFunc(auth, func(got xdr.SorobanAuthorizationEntry) bool {
		return slices.ContainsFunc(p.accepts, func(want xdr.SorobanAuthorizationEntry) bool { return sameXDR(got, want) })
	}) {
		return hostErr(trapped, xdr.ScErrorTypeSceAuth, xdr.ScErrorCodeScecInvalidAction, "missing source-account authorization for the operation's root invocation")
	}
	return nil
}

func containsKey(keys []xdr.LedgerKey, k xdr.LedgerKey) bool {
	return slices.ContainsFunc(keys, func(x xdr.LedgerKey) bool { return sameXDR(x, k) })
}

type binaryMarshaler interface{ MarshalBinary() ([]byte, error) }

// sameXDR compares by encoding: XDR values hold pointers, so == and reflect.DeepEqual would
// judge representation, not value.
func sameXDR(a, b binaryMarshaler) bool {
	x, err1 := a.MarshalBinary()
	y, err2 := b.MarshalBinary()
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// contractID derives a contract's id as the network does: sha256 of the XDR HashIdPreimage
// for the network and the id preimage. The Wasm and constructor arguments play no part.
func contractID(networkID xdr.Hash, pre xdr.ContractIdPreimage) (xdr.ContractId, error) {
	b, err := xdr.HashIdPreimage{
		Type:       xdr.EnvelopeTypeEnvelopeTypeContractId,
		ContractId: &xdr.HashIdPreimageContractId{NetworkId: networkID, ContractIdPreimage: pre},
	}.MarshalBinary()
	if err != nil {
		return xdr.ContractId{}, err
	}
	return sha256.Sum256(b), nil
}

// ContractID is the C... id the network gives a contract created by deployer (G...) with salt
// on the network with this passphrase.
func ContractID(passphrase, deployer string, salt [32]byte) (string, error) {
	acct, err := xdr.AddressToAccountId(deployer)
	if err != nil {
		return "", err
	}
	id, err := contractID(network.ID(passphrase), xdr.ContractIdPreimage{
		Type: xdr.ContractIdPreimageTypeContractIdPreimageFromAddress,
		FromAddress: &xdr.ContractIdPreimageFromAddress{
			Address: xdr.ScAddress{Type: xdr.ScAddressTypeScAddressTypeAccount, AccountId: &acct},
			Salt:    salt,
		},
	})
	if err != nil {
		return "", err
	}
	return strkey.Encode(strkey.VersionByteContract, id[:])
}

func ptr[T any](v T) *T { return &v }
