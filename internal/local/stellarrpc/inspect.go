package stellarrpc

import (
	"slices"

	"github.com/stellar/go/strkey"
	"github.com/stellar/go/xdr"
)

// Counts tallies successful operations. For an account: the transactions it invoked. For a
// contract: its creates and the restores of its instance. For Wasm: its uploads (re-uploads
// included) and the restores of its code.
type Counts struct {
	Uploads, Creates, Restores int
}

// Tx is an applied transaction as tests see it.
type Tx struct {
	Hash       string // hex, as sendTransaction returned it
	Kind       TxKind
	Source     string // the transaction's source account
	Seq        int64
	Status     string // SUCCESS or FAILED (rejected transactions are never applied)
	Ledger     uint32
	FeeCharged int64
	ContractID string   // create: the id it was after, even if it failed
	WasmHash   [32]byte // upload and create
	Error      string   // FAILED: the host's reason
}

// Instance is a contract instance as tests see it.
type Instance struct {
	WasmHash        [32]byte
	ConstructorArgs []xdr.ScVal // kept as sent: the double cannot run the constructor
	LiveUntil       uint32
	Archived        bool
}

func (s *Server) tally(kind TxKind, keys ...string) {
	for _, k := range keys {
		c := s.counts[k]
		if c == nil {
			c = &Counts{}
			s.counts[k] = c
		}
		switch kind {
		case KindUpload:
			c.Uploads++
		case KindCreate:
			c.Creates++
		case KindRestore:
			c.Restores++
		}
	}
}

func (s *Server) countsFor(key string) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.counts[key]; c != nil {
		return *c
	}
	return Counts{}
}

// AccountCounts tallies the successful operations an account (G...) invoked.
func (s *Server) AccountCounts(address string) Counts { return s.countsFor(address) }

// ContractCounts tallies a contract's (C...) creates and instance restores.
func (s *Server) ContractCounts(contractID string) Counts { return s.countsFor(contractID) }

// CodeCounts tallies the uploads and code restores of the Wasm with this hash.
func (s *Server) CodeCounts(hash [32]byte) Counts { return s.countsFor(hashKey(hash)) }

// Transactions lists the applied transactions in ledger order.
func (s *Server) Transactions() []Tx {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Tx, 0, len(s.order))
	for _, h := range s.order {
		out = append(out, s.txs[h].Tx)
	}
	return out
}

// Instance reports the Wasm hash of a contract's instance, archived or not.
func (s *Server) Instance(contractID string) (wasmHash [32]byte, ok bool) {
	i, ok := s.InstanceInfo(contractID)
	return i.WasmHash, ok
}

// InstanceInfo reports everything the double keeps about a contract's instance.
func (s *Server) InstanceInfo(contractID string) (Instance, bool) {
	id, ok := decodeContract(contractID)
	if !ok {
		return Instance{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.instances[id]
	if !ok {
		return Instance{}, false
	}
	return Instance{
		WasmHash:        i.wasmHash,
		ConstructorArgs: slices.Clone(i.args),
		LiveUntil:       i.liveUntil,
		Archived:        !s.live(i.liveUntil),
	}, true
}

// Code reports whether Wasm with this hash is stored, archived or not.
func (s *Server) Code(hash [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.code[hash]
	return ok
}

// Archive puts a contract's instance out of reach until restored, as an expired TTL does: its
// live-until ledger drops below the latest ledger. It reports whether the instance exists.
func (s *Server) Archive(contractID string) bool {
	id, ok := decodeContract(contractID)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.instances[id]
	return ok && s.expire(&i.liveUntil)
}

// ArchiveCode does to stored Wasm what Archive does to an instance.
func (s *Server) ArchiveCode(hash [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.code[hash]
	return ok && s.expire(&c.liveUntil)
}

// expire moves a live-until ledger below the latest one; the caller holds s.mu.
func (s *Server) expire(liveUntil *uint32) bool {
	*liveUntil = s.latest - 1
	return true
}

// Account reports an account's sequence number and balance in stroops.
func (s *Server) Account(address string) (seq int64, balance int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[address]
	if !ok {
		return 0, 0, false
	}
	return a.seq, a.balance, true
}

// LatestLedger is the sequence of the last closed ledger.
func (s *Server) LatestLedger() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}

func decodeContract(contractID string) (xdr.ContractId, bool) {
	b, err := strkey.Decode(strkey.VersionByteContract, contractID)
	if err != nil || len(b) != 32 {
		return xdr.ContractId{}, false
	}
	return xdr.ContractId(b), true
}

// MostInFlight is the most source accounts that had a transaction waiting for its ledger
// to close at the same moment (only with WithLedgerClose): how many deployments overlapped.
func (s *Server) MostInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mostInFlight
}
