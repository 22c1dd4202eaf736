// Package audit says who acts, for the audit trail: the actor and the request an
// invocation works for travel in its context, and the store writes them into the
// transaction that records the change (store.InTx; the control plane's triggers read them).
// Actors are ids, never personal data: an admin is the token's issuer and subject, a
// function its logical id, a tenant's admin its user id.
package audit

import (
	"context"
	"net/netip"
)

// Actor is who acts and, for HTTP, the request it came in.
type Actor struct {
	// Name is admin:<issuer>#<subject>, system:<function logical id> or user:<user id>.
	Name      string
	RequestID string
	SourceIP  netip.Addr
	UserAgent string
}

type (
	actorKey      struct{}
	unrecordedKey struct{}
)

// With is ctx carrying a as its actor, in place of any earlier one.
func With(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// From is ctx's actor; ok is false when none was set, or when ctx is Unrecorded.
func From(ctx context.Context) (a Actor, ok bool) {
	if ctx.Value(unrecordedKey{}) != nil {
		return Actor{}, false
	}
	a, ok = ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// Unrecorded is ctx without an actor, whatever With or As set in it later: no transaction
// names one and no route records its request. It exists for the bench alone, which
// measures onboarding without the trail's work (internal/local/bench); the product never
// calls it. It cannot hide a change: the control plane's triggers still record every
// transition, as system:unattributed, unless the database's owner disables them, as the
// bench does on its scratch database.
func Unrecorded(ctx context.Context) context.Context {
	return context.WithValue(ctx, unrecordedKey{}, true)
}

// Admin is the actor name of a token's subject at its issuer.
func Admin(issuer, subject string) string { return "admin:" + issuer + "#" + subject }

// System is the actor name of one of the product's functions, by logical id.
func System(function string) string { return "system:" + function }

// As runs fn with the function's system actor (System(function)) in its context: the
// generated mains and the local engine wrap every handler in it, so what a step, the
// reconciler or an upgrade changes is recorded as theirs. A route's handler sets the
// admin who called it over this.
//
// An input that embeds Request (a provisioning step's: the execution's requestId) names
// the request the function works for, so that the transitions a step makes carry the id of
// the admin request that started its execution.
func As[In, Out any](function string, fn func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		a := Actor{Name: System(function)}
		if r, ok := any(in).(requester); ok {
			a.RequestID = r.auditRequest()
		}
		return fn(With(ctx, a), in)
	}
}

// Request is the admin request an execution works for: the API's request id, which the
// execution's input carries (workflow.Input) and the state machine passes each step. An
// input that embeds it has As name the request on the function's actor.
type Request struct {
	RequestID string `json:"requestId,omitempty"`
}

func (r Request) auditRequest() string { return r.RequestID }

type requester interface{ auditRequest() string }
