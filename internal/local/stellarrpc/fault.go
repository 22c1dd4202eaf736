package stellarrpc

import (
	"slices"

	protocol "github.com/stellar/go/protocols/rpc"
)

// FaultKind is a failure the double can stage for a client to meet.
type FaultKind int

const (
	// FaultUnavailable answers HTTP 503 with no JSON-RPC body, before any processing.
	FaultUnavailable FaultKind = iota + 1
	// FaultTryAgainLater makes sendTransaction answer TRY_AGAIN_LATER without applying.
	FaultTryAgainLater
	// FaultTxFailed lets the next valid transaction pay its fee and consume its sequence
	// number, then fail in the host (FAILED, txFAILED / INVOKE_HOST_FUNCTION_TRAPPED).
	FaultTxFailed
	// FaultLostResponse processes the request in full (a transaction is applied) and then
	// drops the connection without a reply.
	FaultLostResponse
)

func (k FaultKind) String() string {
	switch k {
	case FaultUnavailable:
		return "unavailable"
	case FaultTryAgainLater:
		return "try again later"
	case FaultTxFailed:
		return "tx failed"
	case FaultLostResponse:
		return "lost response"
	}
	return "unknown fault"
}

// Fault stages Kind for the next Times calls of Method. An empty Method matches any method
// (for FaultTryAgainLater and FaultTxFailed, which only sendTransaction can meet, it means
// sendTransaction); Times below 1 means once.
type Fault struct {
	Method string
	Kind   FaultKind
	Times  int
}

// Inject stages f after any faults already staged; the first matching one is consumed first.
// A Fault without a Kind stages nothing.
func (s *Server) Inject(f Fault) {
	if f.Kind == 0 {
		return
	}
	if f.Times < 1 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults drops every staged fault that has uses left, so a test can let a client recover
// from a fault staged with a generous Times.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault consumes one use of the first staged fault of one of kinds that targets one of
// methods, and reports its kind (0 if none). Callers hold s.mu.
func (s *Server) takeFault(methods []string, kinds ...FaultKind) FaultKind {
	for i, f := range s.faults {
		if !slices.Contains(kinds, f.Kind) || (f.Method != "" && !slices.Contains(methods, f.Method)) {
			continue
		}
		if f.Times--; f.Times == 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return f.Kind
	}
	return 0
}

var sendMethod = []string{protocol.SendTransactionMethodName}
