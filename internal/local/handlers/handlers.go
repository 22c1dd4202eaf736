// Package handlers maps the catalogue's functions to their handlers, each wrapped by
// aws-lambda-go exactly as the Lambda runtime wraps it (same JSON decoding, same error
// types; lambdarun.NewHandler), so what the local runners call is what runs in AWS. The
// tables, one per component (Pipeline, API, Upgrade, Reconcile, ControlPlane), are
// generated from the catalogue into catalog_gen.go.
package handlers

import (
	"context"
	"maps"
	"sort"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
)

// served is the part of table that the functions of component k make, each timed out at
// its catalogue timeout as Lambda times it out (lambdarun.WithTimeout).
func served(k catalog.Component, table map[string]lambda.Handler) map[string]lambda.Handler {
	out := map[string]lambda.Handler{}
	for id, h := range table {
		if f, ok := catalog.ByLogicalID(id); ok && f.Runs == k {
			out[id] = lambdarun.WithTimeout(h, f.TimeLimit())
		}
	}
	return out
}

// Substitutions maps each ${<LogicalId>Arn} of the state machine definition to the
// function's logical id, which is how local runners address functions (as
// `sam local start-lambda` does); SAM's DefinitionSubstitutions map them to real ARNs.
func Substitutions(c map[string]lambda.Handler) map[string]string {
	subs := make(map[string]string, len(c))
	for id := range c {
		if f, ok := catalog.ByLogicalID(id); ok {
			subs[f.Substitution()] = id
		}
	}
	return subs
}

// Names lists the logical ids of c, sorted.
func Names(c map[string]lambda.Handler) []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Reserve gives the functions of c named in limits a reserved concurrency, as
// template.yaml's ReservedConcurrentExecutions does in AWS: an invocation beyond a
// function's limit is refused before it runs, with the error Lambda throttling reaches
// Step Functions with (Lambda.TooManyRequestsException), which the definitions retry.
// Throttled counts the refusals.
func Reserve(c map[string]lambda.Handler, limits map[string]int) (_ map[string]lambda.Handler, throttled *atomic.Int64) {
	throttled = &atomic.Int64{}
	out := maps.Clone(c)
	for id, n := range limits {
		if h := c[id]; h != nil {
			out[id] = reserved{h: h, slots: make(chan struct{}, n), throttled: throttled}
		}
	}
	return out, throttled
}

type reserved struct {
	h         lambda.Handler
	slots     chan struct{}
	throttled *atomic.Int64
}

func (r reserved) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
		return r.h.Invoke(ctx, payload)
	default:
		r.throttled.Add(1)
		return nil, messages.InvokeResponse_Error{Type: "Lambda.TooManyRequestsException", Message: "Rate Exceeded."}
	}
}
