package stellarrpc

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/creachadair/jrpc2"
	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/xdr"
)

// account is a classic account with only its master key as signer.
type account struct {
	id       xdr.AccountId
	seq      int64
	balance  int64
	modified uint32
}

type codeEntry struct {
	wasm      []byte
	liveUntil uint32
	modified  uint32
}

type instanceEntry struct {
	wasmHash  xdr.Hash
	args      []xdr.ScVal // kept for inspection: the double cannot run the constructor
	liveUntil uint32
	modified  uint32
}

// Fund creates the account with this balance (or sets the balance of an existing one, keeping
// its sequence number). Like the network, a new account's sequence number is the current
// ledger shifted left by 32. It panics on an address that is not a G... account: that is a
// mistake in the test or the command line, not a condition to handle.
func (s *Server) Fund(address string, balanceStroops int64) {
	id, err := xdr.AddressToAccountId(address)
	if err != nil {
		panic(fmt.Sprintf("stellarrpc: Fund(%q): %v", address, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[address]; ok {
		a.balance, a.modified = balanceStroops, s.latest
		return
	}
	s.accounts[address] = &account{id: id, seq: int64(s.latest) << 32, balance: balanceStroops, modified: s.latest}
}

// live reports whether an entry with this TTL can be read or written without a restore.
func (s *Server) live(liveUntil uint32) bool { return liveUntil >= s.latest }

// closeLedger closes the ledger a transaction is applied in and returns its sequence.
func (s *Server) closeLedger() uint32 {
	s.latest++
	s.closedAt = max(s.now().Unix(), s.closedAt)
	return s.latest
}

func codeKey(hash xdr.Hash) xdr.LedgerKey {
	return xdr.LedgerKey{Type: xdr.LedgerEntryTypeContractCode, ContractCode: &xdr.LedgerKeyContractCode{Hash: hash}}
}

func instanceKey(id xdr.ContractId) xdr.LedgerKey {
	return xdr.LedgerKey{Type: xdr.LedgerEntryTypeContractData, ContractData: &xdr.LedgerKeyContractData{
		Contract:   contractAddress(id),
		Key:        xdr.ScVal{Type: xdr.ScValTypeScvLedgerKeyContractInstance},
		Durability: xdr.ContractDataDurabilityPersistent,
	}}
}

func contractAddress(id xdr.ContractId) xdr.ScAddress {
	return xdr.ScAddress{Type: xdr.ScAddressTypeScAddressTypeContract, ContractId: &id}
}

func (a *account) entry() xdr.LedgerEntry {
	return xdr.LedgerEntry{
		LastModifiedLedgerSeq: xdr.Uint32(a.modified),
		Data: xdr.LedgerEntryData{Type: xdr.LedgerEntryTypeAccount, Account: &xdr.AccountEntry{
			AccountId:  a.id,
			Balance:    xdr.Int64(a.balance),
			SeqNum:     xdr.SequenceNumber(a.seq),
			Thresholds: xdr.Thresholds{1, 0, 0, 0}, // master weight 1, thresholds 0
		}},
	}
}

func (c *codeEntry) entry(hash xdr.Hash) xdr.LedgerEntry {
	return xdr.LedgerEntry{
		LastModifiedLedgerSeq: xdr.Uint32(c.modified),
		Data: xdr.LedgerEntryData{Type: xdr.LedgerEntryTypeContractCode, ContractCode: &xdr.ContractCodeEntry{
			Hash: hash,
			Code: c.wasm,
		}},
	}
}

func (i *instanceEntry) entry(id xdr.ContractId) xdr.LedgerEntry {
	hash := i.wasmHash
	return xdr.LedgerEntry{
		LastModifiedLedgerSeq: xdr.Uint32(i.modified),
		Data: xdr.LedgerEntryData{Type: xdr.LedgerEntryTypeContractData, ContractData: &xdr.ContractDataEntry{
			Contract:   contractAddress(id),
			Key:        xdr.ScVal{Type: xdr.ScValTypeScvLedgerKeyContractInstance},
			Durability: xdr.ContractDataDurabilityPersistent,
			Val: xdr.ScVal{Type: xdr.ScValTypeScvContractInstance, Instance: &xdr.ScContractInstance{
				Executable: xdr.ContractExecutable{Type: xdr.ContractExecutableTypeContractExecutableWasm, WasmHash: &hash},
			}},
		}},
	}
}

// ttlEntry is the TTL entry the network keeps beside each contract entry, keyed by the hash of
// the entry's key.
func ttlEntry(key xdr.LedgerKey, liveUntil, modified uint32) xdr.LedgerEntry {
	b, _ := key.MarshalBinary()
	return xdr.LedgerEntry{
		LastModifiedLedgerSeq: xdr.Uint32(modified),
		Data: xdr.LedgerEntryData{Type: xdr.LedgerEntryTypeTtl, Ttl: &xdr.TtlEntry{
			KeyHash:            sha256.Sum256(b),
			LiveUntilLedgerSeq: xdr.Uint32(liveUntil),
		}},
	}
}

// stored is what the ledger holds under a key: the entry and, for contract entries, its TTL.
type stored struct {
	entry     xdr.LedgerEntry
	liveUntil *uint32
}

// lookup finds the entry under key, archived or not. Only the kinds of entries the double
// keeps can be found; anything else is absent, as a missing key is.
func (s *Server) lookup(key xdr.LedgerKey) (stored, bool) {
	switch key.Type {
	case xdr.LedgerEntryTypeAccount:
		if a, ok := s.accounts[key.Account.AccountId.Address()]; ok {
			return stored{entry: a.entry()}, true
		}
	case xdr.LedgerEntryTypeContractCode:
		if c, ok := s.code[key.ContractCode.Hash]; ok {
			return stored{entry: c.entry(key.ContractCode.Hash), liveUntil: &c.liveUntil}, true
		}
	case xdr.LedgerEntryTypeContractData:
		id, ok := instanceID(key)
		if !ok {
			return stored{}, false
		}
		if i, ok := s.instances[id]; ok {
			return stored{entry: i.entry(id), liveUntil: &i.liveUntil}, true
		}
	}
	return stored{}, false
}

// instanceID reports whether key is a contract instance key, and whose.
func instanceID(key xdr.LedgerKey) (xdr.ContractId, bool) {
	d := key.ContractData
	if d == nil || d.Key.Type != xdr.ScValTypeScvLedgerKeyContractInstance ||
		d.Durability != xdr.ContractDataDurabilityPersistent ||
		d.Contract.Type != xdr.ScAddressTypeScAddressTypeContract || d.Contract.ContractId == nil {
		return xdr.ContractId{}, false
	}
	return *d.Contract.ContractId, true
}

// entrySize is an entry's XDR size, which is what the network meters reads and writes by.
func entrySize(e xdr.LedgerEntry) uint32 {
	b, _ := e.MarshalBinary()
	return uint32(len(b))
}

func (s *Server) getHealth(context.Context, struct{}) (protocol.GetHealthResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return protocol.GetHealthResponse{
		Status:                "healthy",
		LatestLedger:          s.latest,
		OldestLedger:          firstLedger,
		LedgerRetentionWindow: retentionWindow,
	}, nil
}

func (s *Server) getNetwork(context.Context, protocol.GetNetworkRequest) (protocol.GetNetworkResponse, error) {
	return protocol.GetNetworkResponse{Passphrase: s.passphrase, ProtocolVersion: s.protocol}, nil
}

func (s *Server) getLatestLedger(context.Context, struct{}) (protocol.GetLatestLedgerResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return protocol.GetLatestLedgerResponse{
		Hash:            ledgerHash(s.latest),
		ProtocolVersion: uint32(s.protocol),
		Sequence:        s.latest,
	}, nil
}

// ledgerHash stands in for a ledger header hash: stable per sequence, distinct across them.
func ledgerHash(seq uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], seq)
	h := sha256.Sum256(b[:])
	return hex.EncodeToString(h[:])
}

// maxLedgerKeys is stellar-rpc's limit on keys per getLedgerEntries call.
const maxLedgerKeys = 200

func (s *Server) getLedgerEntries(_ context.Context, req protocol.GetLedgerEntriesRequest) (protocol.GetLedgerEntriesResponse, error) {
	if err := checkFormat(req.Format); err != nil {
		return protocol.GetLedgerEntriesResponse{}, err
	}
	if len(req.Keys) == 0 || len(req.Keys) > maxLedgerKeys {
		return protocol.GetLedgerEntriesResponse{}, invalidParams("between 1 and %d keys are required, got %d", maxLedgerKeys, len(req.Keys))
	}
	keys := make([]xdr.LedgerKey, len(req.Keys))
	for i, k := range req.Keys {
		if err := xdr.SafeUnmarshalBase64(k, &keys[i]); err != nil {
			return protocol.GetLedgerEntriesResponse{}, invalidParams("cannot unmarshal key value %s at index %d", k, i)
		}
		if keys[i].Type == xdr.LedgerEntryTypeTtl {
			return protocol.GetLedgerEntriesResponse{}, invalidParams("ledger ttl entries cannot be queried directly (key at index %d)", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := protocol.GetLedgerEntriesResponse{Entries: []protocol.LedgerEntryResult{}, LatestLedger: s.latest}
	for i, key := range keys {
		st, ok := s.lookup(key)
		if !ok {
			continue
		}
		data, err := xdr.MarshalBase64(st.entry.Data)
		if err != nil {
			return protocol.GetLedgerEntriesResponse{}, err
		}
		ext, _ := xdr.MarshalBase64(st.entry.Ext)
		r := protocol.LedgerEntryResult{
			KeyXDR:             req.Keys[i],
			DataXDR:            data,
			LastModifiedLedger: uint32(st.entry.LastModifiedLedgerSeq),
			ExtensionXDR:       ext,
		}
		if st.liveUntil != nil {
			live := *st.liveUntil
			r.LiveUntilLedgerSeq = &live
		}
		resp.Entries = append(resp.Entries, r)
	}
	return resp, nil
}

// checkFormat refuses xdrFormat json: the double answers in base64 XDR only, and saying so
// beats answering in a format the client did not ask for.
func checkFormat(format string) error {
	if err := protocol.IsValidFormat(format); err != nil {
		return invalidParams("%v", err)
	}
	if format == protocol.FormatJSON {
		return invalidParams("xdrFormat %q is not supported by the Stellar RPC double", format)
	}
	return nil
}

func invalidParams(format string, args ...any) error {
	return &jrpc2.Error{Code: jrpc2.InvalidParams, Message: fmt.Sprintf(format, args...)}
}
