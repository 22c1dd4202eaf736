// Package stellarrpc is an in-memory Stellar RPC double for tests and the local dev stack: it
// speaks the real JSON-RPC protocol, keeps just enough ledger to upload Wasm and create
// contracts, and checks what it is sent the way the network would.
package stellarrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/creachadair/jrpc2/handler"
	"github.com/creachadair/jrpc2/jhttp"
	"github.com/stellar/go/network"
	protocol "github.com/stellar/go/protocols/rpc"
	"github.com/stellar/go/xdr"
)

// DefaultProtocolVersion is what getNetwork reports unless WithProtocolVersion says otherwise:
// the first protocol with contract constructors.
const DefaultProtocolVersion = 22

const (
	// firstLedger is where the double's history starts; low enough to read, high enough that
	// Archive can always put an entry's TTL below the latest ledger.
	firstLedger = 1000
	// persistentTTL is how long new persistent entries live: the network's minimum, a week of
	// ledgers. Nothing expires on its own here (ledgers only close on transactions); Archive
	// does it on purpose.
	persistentTTL = 120_960
	// retentionWindow is what getHealth reports: a day of ledgers, as stellar-rpc's default.
	retentionWindow = 17_280
	// maxBody bounds a request; the largest legitimate one is an upload of a 64 KiB contract.
	maxBody = 1 << 20
)

// Server is the double. Its zero value is not usable: call New, and Close when done.
type Server struct {
	passphrase string
	networkID  xdr.Hash
	protocol   int
	notFound   int
	now        func() time.Time
	log        *slog.Logger
	bridge     jhttp.Bridge

	mu        sync.Mutex // guards everything below; one lock keeps validate+apply atomic
	latest    uint32
	closedAt  int64 // close time of latest, unix seconds
	startedAt int64 // close time of firstLedger
	accounts  map[string]*account
	code      map[xdr.Hash]*codeEntry
	instances map[xdr.ContractId]*instanceEntry
	txs       map[string]*txRecord
	// closeEvery and inFlight model ledger closes (WithLedgerClose): inFlight holds, per
	// source account, when its pending transaction's ledger closes.
	closeEvery time.Duration
	inFlight   map[string]time.Time
	// mostInFlight is the most accounts that had a transaction pending at once.
	mostInFlight int
	order        []string // tx hashes in application order
	counts       map[string]*Counts
	faults       []*Fault
}

// Option configures a Server.
type Option func(*Server)

// WithProtocolVersion sets the protocol getNetwork and getLatestLedger report; it also decides
// which contracts upload (declared interface ≤ protocol), whether CreateContractV2 exists (≥ 22)
// and the result meta version (V4 from 23, V3 before).
func WithProtocolVersion(v int) Option { return func(s *Server) { s.protocol = v } }

// WithNotFoundPolls sets how many getTransaction calls for a transaction answer NOT_FOUND
// before its result (default 1), so that clients have to poll as they must on the network.
func WithNotFoundPolls(n int) Option { return func(s *Server) { s.notFound = max(n, 0) } }

// WithLogger logs each call's method and outcome (never envelopes or keys).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithLedgerClose gives the double a real network's shape: a ledger closes every d from
// the start, a sent transaction is confirmed (getTransaction finds it) only once the next
// ledger has closed, and a source account has one transaction in flight at a time, as
// stellar-core's queue allows (a second is TRY_AGAIN_LATER until the first's ledger closes).
// 0, the default, confirms at once. The effects are applied when sent either way: only what
// a client can see of them waits.
func WithLedgerClose(d time.Duration) Option { return func(s *Server) { s.closeEvery = max(d, 0) } }

// WithClock replaces time.Now for ledger close times and time-bound checks.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New starts a double for the network with this passphrase.
func New(passphrase string, opts ...Option) *Server {
	s := &Server{
		passphrase: passphrase,
		networkID:  network.ID(passphrase),
		protocol:   DefaultProtocolVersion,
		notFound:   1,
		now:        time.Now,
		log:        slog.New(slog.DiscardHandler),
		latest:     firstLedger,
		accounts:   map[string]*account{},
		code:       map[xdr.Hash]*codeEntry{},
		instances:  map[xdr.ContractId]*instanceEntry{},
		txs:        map[string]*txRecord{},
		inFlight:   map[string]time.Time{},
		counts:     map[string]*Counts{},
	}
	for _, o := range opts {
		o(s)
	}
	s.closedAt = s.now().Unix()
	s.startedAt = s.closedAt
	s.bridge = jhttp.NewBridge(s.methods(), nil)
	return s
}

// nextClose is when the ledger open now closes: the next multiple of closeEvery since start.
func (s *Server) nextClose() time.Time {
	start := time.Unix(s.startedAt, 0)
	n := s.now().Sub(start)/s.closeEvery + 1
	return start.Add(n * s.closeEvery)
}

// Close stops the JSON-RPC server behind the HTTP bridge.
func (s *Server) Close() error { return s.bridge.Close() }

// Passphrase is the network passphrase the double signs and hashes with.
func (s *Server) Passphrase() string { return s.passphrase }

// methods wires each RPC method to its handler. The protocol structs carry the JSON tags
// (including the int64 fields that travel as strings), so the wire format follows the
// client's by construction.
func (s *Server) methods() handler.Map {
	m := handler.Map{
		protocol.GetHealthMethodName:           handler.New(s.getHealth),
		protocol.GetNetworkMethodName:          handler.New(s.getNetwork),
		protocol.GetLatestLedgerMethodName:     handler.New(s.getLatestLedger),
		protocol.GetLedgerEntriesMethodName:    handler.New(s.getLedgerEntries),
		protocol.SimulateTransactionMethodName: handler.New(s.simulateTransaction),
		protocol.SendTransactionMethodName:     handler.New(s.sendTransaction),
		protocol.GetTransactionMethodName:      handler.New(s.getTransaction),
	}
	for name, h := range m {
		m[name] = s.logged(name, h)
	}
	return m
}

func (s *Server) logged(method string, h jrpc2.Handler) jrpc2.Handler {
	return func(ctx context.Context, req *jrpc2.Request) (any, error) {
		res, err := h(ctx, req)
		attrs := []slog.Attr{slog.String("method", method)}
		if err != nil {
			attrs = append(attrs, slog.String("outcome", "rpc error"), slog.String("error", err.Error()))
		} else {
			attrs = append(attrs, outcome(res)...)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "rpc call", attrs...)
		return res, err
	}
}

// outcome summarises a result for the log: statuses and hashes, never XDR.
func outcome(res any) []slog.Attr {
	switch r := res.(type) {
	case protocol.SendTransactionResponse:
		return []slog.Attr{slog.String("outcome", r.Status), slog.String("hash", r.Hash)}
	case protocol.GetTransactionResponse:
		return []slog.Attr{slog.String("outcome", r.Status), slog.String("hash", r.TransactionHash)}
	case protocol.SimulateTransactionResponse:
		if r.Error != "" {
			return []slog.Attr{slog.String("outcome", "simulation failed"), slog.String("error", r.Error)}
		}
		if r.RestorePreamble != nil {
			return []slog.Attr{slog.String("outcome", "restore needed")}
		}
	case protocol.GetLedgerEntriesResponse:
		return []slog.Attr{slog.String("outcome", "ok"), slog.Int("entries", len(r.Entries))}
	}
	return []slog.Attr{slog.String("outcome", "ok")}
}

// ServeHTTP answers JSON-RPC over HTTP POST, after giving transport faults their turn.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body unreadable or too large", http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	methods := peekMethods(body)
	s.mu.Lock()
	f := s.takeFault(methods, FaultUnavailable, FaultLostResponse)
	s.mu.Unlock()
	switch f {
	case FaultUnavailable:
		s.log.Info("fault injected", "methods", methods, "fault", "unavailable")
		w.WriteHeader(http.StatusServiceUnavailable)
	case FaultLostResponse:
		s.bridge.ServeHTTP(discardResponse{http.Header{}}, r)
		s.log.Info("fault injected", "methods", methods, "fault", "lost response")
		dropConnection(w)
	default:
		s.bridge.ServeHTTP(w, r)
	}
}

// peekMethods reads the method names of a request or batch so that faults can target them
// before the bridge parses the body for real.
func peekMethods(body []byte) []string {
	type call struct {
		Method string `json:"method"`
	}
	var batch []call
	if err := json.Unmarshal(body, &batch); err != nil {
		var one call
		if json.Unmarshal(body, &one) != nil {
			return nil
		}
		batch = []call{one}
	}
	names := make([]string, 0, len(batch))
	for _, c := range batch {
		names = append(names, c.Method)
	}
	return names
}

// dropConnection loses a response the way a dying proxy does: the connection closes with no
// reply. Without hijacking (HTTP/2) a 502 is the nearest equivalent.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	w.WriteHeader(http.StatusBadGateway)
}

// discardResponse lets a request be processed in full while its reply goes nowhere.
type discardResponse struct{ h http.Header }

func (d discardResponse) Header() http.Header         { return d.h }
func (d discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d discardResponse) WriteHeader(int)             {}
